"""Issue 13: an empty YOLO label file is a background image: kept, scored as false positives."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.datasets import load_split
from edge.defaults import SHAPES_MODEL
from edge.detector import Detector
from edge.evaluation.evaluate import evaluate_detector


def _dataset(root: Path) -> Path:
    """Two images of the same red square: one labelled, one with an empty label file."""
    (root / "val" / "images").mkdir(parents=True)
    (root / "val" / "labels").mkdir(parents=True)
    (root / "data.yaml").write_text("names: [square, circle, triangle]\nval: val/images\n")
    img = np.full((96, 96, 3), 255, np.uint8)
    cv2.rectangle(img, (20, 20), (70, 70), (0, 0, 255), -1)
    for stem, label in (("object", "0 0.474 0.474 0.531 0.531\n"), ("background", "")):
        cv2.imwrite(str(root / "val" / "images" / f"{stem}.png"), img)
        (root / "val" / "labels" / f"{stem}.txt").write_text(label)
    return root


def test_background_image_is_kept_and_its_detections_are_false_positives(tmp_path):
    ds = load_split(_dataset(tmp_path / "ds"), "val")
    assert ds.issues == []
    by_stem = {s.image_path.stem: s for s in ds.samples}
    assert set(by_stem) == {"object", "background"} and len(by_stem["background"].xyxy) == 0
    det = Detector.load(SHAPES_MODEL)
    alone = evaluate_detector(det.detect, ds.subset([list(by_stem).index("object")], "object"), False)
    both = evaluate_detector(det.detect, ds, progress=False)
    assert alone.map50 > 0.99  # the square is found
    # the same detection on the background image is a false positive ranked as high: AP halves
    assert both.num_images == 2 and 0.3 < both.map50 < 0.8

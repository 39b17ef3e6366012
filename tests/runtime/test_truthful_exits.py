"""Issue 13: exit codes tell the truth, and a labels file that renames classes is said out loud."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
from click.testing import CliRunner

from edge.cli import cli
from edge.defaults import SHAPES_MODEL
from edge.detector import Detector


def _shapes_dataset(root: Path, class_id: int) -> Path:
    """A YOLO dataset named like the embedded model's labels; every box uses ``class_id``."""
    (root / "val" / "images").mkdir(parents=True)
    (root / "val" / "labels").mkdir(parents=True)
    (root / "data.yaml").write_text("names: [square, circle, triangle]\nval: val/images\n")
    for i in range(2):
        img = np.full((96, 96, 3), 255, np.uint8)
        cv2.rectangle(img, (20, 20), (70, 70), (0, 0, 255), -1)
        cv2.imwrite(str(root / "val" / "images" / f"{i}.jpg"), img)
        (root / "val" / "labels" / f"{i}.txt").write_text(f"{class_id} 0.47 0.47 0.52 0.52\n")
    return root


def test_eval_with_no_ground_truth_left_exits_non_zero(tmp_path):
    data = _shapes_dataset(tmp_path / "ds", class_id=7)  # beyond the 3 labels: every box skipped
    res = CliRunner().invoke(cli, ["eval", "--model", str(SHAPES_MODEL), "--data", str(data)])
    assert res.exit_code != 0
    assert "no ground-truth box" in res.output and "mAP is undefined" in res.output
    assert "Traceback" not in res.output


def test_profile_exits_non_zero_when_every_variant_fails(tmp_path, ssd_dir):
    data = _shapes_dataset(tmp_path / "ds", class_id=0)
    res = CliRunner().invoke(cli, ["-q", "profile", "--models", str(tmp_path / "missing.tflite"),
                                   "--data", str(data), "--repeats", "1", "--out", str(tmp_path / "o")])
    assert res.exit_code != 0
    assert "every variant failed" in res.output and "missing.tflite" in res.output
    assert "Traceback" not in res.output


def test_labels_file_that_renames_the_metadata_classes_warns(tmp_path, caplog):
    other = tmp_path / "labels.txt"
    other.write_text("cat\ndog\nbird\n")
    with caplog.at_level(logging.WARNING, logger="edge.detector"):
        det = Detector.load(SHAPES_MODEL, labels=other)
    assert det.labels == ["cat", "dog", "bird"]
    msg = caplog.text
    assert "['square', 'circle', 'triangle']" in msg and "['cat', 'dog', 'bird']" in msg

"""Issue 13: background images (empty YOLO label files) flow through training with zero boxes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.datasets import load_split
from train.augment import AugmentConfig
from train.data import make_dataset
from train.families.yolo_nano import GtEncoder


def test_background_images_train_with_zero_boxes(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    (root / "train" / "images").mkdir(parents=True)
    (root / "train" / "labels").mkdir(parents=True)
    (root / "data.yaml").write_text("names: [square]\ntrain: train/images\n")
    for i in range(4):
        cv2.imwrite(str(root / "train" / "images" / f"{i}.jpg"), np.full((64, 80, 3), 40 * i, np.uint8))
        (root / "train" / "labels" / f"{i}.txt").write_text("0 0.5 0.5 0.4 0.4\n" if i == 0 else "")
    ds = load_split(root, "train")
    assert len(ds) == 4 and ds.issues == []
    enc = GtEncoder(max_boxes=4)
    d = make_dataset(ds, 64, enc.encode_batch, [(4, 5)], 4, training=True,
                     augment=AugmentConfig(mosaic=1.0), cache=False)
    x, (targets,) = next(iter(d))
    assert x.shape == (4, 64, 64, 3)
    assert targets.shape == (4, 4, 5)  # mosaics of background images encode without error

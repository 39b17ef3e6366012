"""Issue 13: `--data data.yaml` (what Ultralytics users type) works wherever --data is taken."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from click.testing import CliRunner

from edge.cli import cli
from edge.datasets import load_split, load_splits
from edge.defaults import SHAPES_MODEL


def _ultralytics_layout(root: Path, yaml_text: str) -> Path:
    """root/images/{train,val} + root/labels/{...}; the YAML elsewhere, pointing back by ``path``."""
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for i in range(2):
            img = np.full((96, 96, 3), 255, np.uint8)
            cv2.rectangle(img, (20, 20), (70, 70), (0, 0, 255), -1)
            cv2.imwrite(str(root / "images" / split / f"{i}.jpg"), img)
            (root / "labels" / split / f"{i}.txt").write_text("0 0.474 0.474 0.531 0.531\n")
    y = root.parent / "cfg" / "shapes.yaml"
    y.parent.mkdir()
    y.write_text(yaml_text)
    return y


def test_data_yaml_with_path_train_val_keys(tmp_path: Path) -> None:
    y = _ultralytics_layout(tmp_path / "shapes", f"path: {tmp_path / 'shapes'}\ntrain: images/train\n"
                            "val: images/val\nnames:\n  0: square\n  1: circle\n  2: triangle\n")
    train, val = load_splits(y)
    assert train.labels == ["square", "circle", "triangle"] and len(train) == 2 and len(val) == 2
    assert val.samples[0].image_path.parent == tmp_path / "shapes" / "images" / "val"
    assert load_split(y, "val").labels == train.labels


def test_eval_and_profile_accept_data_yaml(tmp_path: Path) -> None:
    y = _ultralytics_layout(tmp_path / "shapes", "path: ../shapes\ntrain: images/train\nval: images/val\n"
                            "names: [square, circle, triangle]\n")
    res = CliRunner().invoke(cli, ["eval", "--model", str(SHAPES_MODEL), "--data", str(y)])
    assert res.exit_code == 0, res.output
    assert "[val]" in res.output and "mAP@0.5 1.0000" in res.output
    res = CliRunner().invoke(cli, ["-q", "profile", "--models", str(SHAPES_MODEL), "--data", str(y),
                                   "--repeats", "1", "--out", str(tmp_path / "prof")])
    assert res.exit_code == 0, res.output


def test_calibration_images_from_data_yaml(tmp_path: Path) -> None:
    from convert.calibration import find_images

    y = _ultralytics_layout(tmp_path / "shapes", "path: ../shapes\ntrain: images/train\nval: images/val\n"
                            "names: [square, circle, triangle]\n")
    assert [p.parent.name for p in find_images(y)] == ["val", "val"]

"""Issue 13: model and dataset classes pair by name (a COCO model on a cat/dog dataset)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edge.cli import cli
from edge.core.boxes import Detections
from edge.evaluation.labels import match_labels

# the published SSD's known results on cats_and_dogs.jpg (GUIDE §7), pixel x, y, w, h
CATS_AND_DOGS = [("cat", (54, 396, 393, 196)), ("cat", (602, 157, 394, 447)),
                 ("cat", (260, 394, 180, 209)), ("dog", (389, 197, 278, 402))]  # clipped to the image
NAMES = ["bird", "cat", "dog", "person", "horse", "unicorn"]  # a COCO subset, plus one COCO lacks


def _dataset(root: Path, ssd_dir: Path) -> Path:
    (root / "val" / "images").mkdir(parents=True)
    (root / "val" / "labels").mkdir(parents=True)
    (root / "data.yaml").write_text(f"names: {NAMES}\nval: val/images\n")
    shutil.copy(ssd_dir / "cats_and_dogs.jpg", root / "val" / "images" / "cd.jpg")
    w, h = 1200, 600
    rows = [f"{NAMES.index(n)} {(x + bw / 2) / w:.5f} {(y + bh / 2) / h:.5f} {bw / w:.5f} {bh / h:.5f}"
            for n, (x, y, bw, bh) in CATS_AND_DOGS]
    (root / "val" / "labels" / "cd.txt").write_text("\n".join(rows) + "\n")
    return root


def test_eval_of_a_coco_model_on_a_coco_subset_pairs_by_name(tmp_path, ssd_dir):
    data = _dataset(tmp_path / "ds", ssd_dir)
    out = tmp_path / "eval"
    res = CliRunner().invoke(cli, ["eval", "--model", str(ssd_dir / "ssd_mobilenet_v1_coco_quant.tflite"),
                                   "--labels", str(ssd_dir / "labelmap.txt"), "--data", str(data),
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "detector returned class id" not in res.output
    assert "left out dataset classes the model lacks: ['unicorn']" in res.output
    assert "dropped detections of model classes not in the dataset" in res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["per_class_ap"]) == {"bird", "cat", "dog", "person", "horse"}
    assert metrics["per_class_ap50"]["cat"] > 0.9 and metrics["per_class_ap50"]["dog"] > 0.9


def test_match_renumbers_both_sides_and_refuses_nothing_shared():
    m = match_labels(["???", "person", "cat", "dog"], ["dog", "cat", "unicorn"])
    assert m.shared == ["dog", "cat"] and m.dataset_only == ["unicorn"] and m.model_only == ["person"]
    dets = Detections(np.array([[0, 0, .5, .5]] * 3, np.float32), np.array([.9, .8, .7], np.float32),
                      np.array([1, 2, 3], np.int32))
    got = m.remap(dets)
    assert got.class_ids.tolist() == [1, 0] and got.scores.tolist() == pytest.approx([.8, .7])
    with pytest.raises(ValueError, match="no class is shared by name"):
        match_labels(["person"], ["raccoon"])


def test_profile_pairs_by_name_and_says_what_was_left_out(tmp_path, ssd_dir):
    data = _dataset(tmp_path / "ds", ssd_dir)
    out = tmp_path / "prof"
    model = ssd_dir / "ssd_mobilenet_v1_coco_quant.tflite"
    res = CliRunner().invoke(cli, ["-q", "profile", "--models", str(model),
                                   "--labels", str(ssd_dir / "labelmap.txt"), "--data", str(data),
                                   "--repeats", "1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    (row,) = json.loads((out / "profile.json").read_text())["variants"]
    assert row["ok"] and row["map50"] > 0.9


def test_parity_validation_keeps_the_dataset_names_to_pair_by_name(tmp_path, ssd_dir):
    from convert.parity import load_validation

    ds = load_validation(_dataset(tmp_path / "ds", ssd_dir), ["dog", "cat"])
    assert ds.labels == NAMES
    m = match_labels(["dog", "cat"], ds.labels)
    assert m.shared == ["cat", "dog"] and "unicorn" in m.note()

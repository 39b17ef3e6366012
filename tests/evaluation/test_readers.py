"""Dataset readers: three formats agree, bad annotations are named, splits are reproducible."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.datasets import DatasetError, load_split, load_splits, report_text
from edge.datasets.types import Dataset, Sample
from edge.datasets.writers import write_coco, write_voc, write_yolo


def _small(tmp: Path) -> Dataset:
    rng = np.random.default_rng(1)
    samples = []
    for i, (w, h) in enumerate([(64, 48), (80, 80), (50, 70)]):
        p = tmp / "src" / f"img{i}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(p), rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
        px = np.array([[2, 3, 30, 40], [10, 5, 20, 15]], np.float32)[: 1 + i % 2]
        samples.append(Sample(p, (w, h), px / np.array([w, h, w, h], np.float32), np.arange(len(px)) % 2))
    return Dataset(samples, ["cat", "dog"], "train")


def test_three_formats_load_identical_boxes(tmp_path: Path) -> None:
    ds = _small(tmp_path)
    loaded = {}
    for fmt, writer in (("yolo", write_yolo), ("voc", write_voc), ("coco", write_coco)):
        root = writer(ds, tmp_path / fmt, "train")
        loaded[fmt] = load_split(root, "train", fmt=fmt)
        assert loaded[fmt].labels == ["cat", "dog"]
        assert not loaded[fmt].issues
    for fmt, got in loaded.items():
        by_name = {s.image_path.name: s for s in got.samples}
        assert len(by_name) == len(ds)
        for s in ds.samples:
            g = by_name[s.image_path.name]
            assert g.size_wh == s.size_wh, fmt
            np.testing.assert_allclose(g.xyxy, s.xyxy, atol=1e-5, err_msg=fmt)
            np.testing.assert_array_equal(g.class_ids, s.class_ids, err_msg=fmt)


def _bad_yolo(tmp: Path) -> Path:
    root = tmp / "bad"
    (root / "train" / "images").mkdir(parents=True)
    (root / "train" / "labels").mkdir(parents=True)
    (root / "data.yaml").write_text("names: [a, b]\n")
    for stem, label in [("good", "0 0.5 0.5 0.2 0.2\n"), ("outside", "0 0.95 0.5 0.3 0.2\n"),
                        ("badclass", "7 0.5 0.5 0.2 0.2\n"), ("empty", "")]:
        cv2.imwrite(str(root / "train" / "images" / f"{stem}.jpg"), np.zeros((20, 30, 3), np.uint8))
        (root / "train" / "labels" / f"{stem}.txt").write_text(label)
    (root / "train" / "labels" / "noimage.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    return root


def test_bad_annotations_are_named_and_skipped(tmp_path: Path) -> None:
    ds = load_split(_bad_yolo(tmp_path), "train", on_error="skip")
    by_kind = {i.kind: i.file.name for i in ds.issues}
    assert by_kind == {"box-outside": "outside.txt", "bad-class": "badclass.txt",
                       "missing-image": "noimage.txt"}
    # the box outside and the bad class are dropped (reported), the images stay; an empty
    # label file is a background image (Ultralytics), kept with no boxes and no issue
    assert sorted(s.image_path.stem for s in ds.samples) == ["badclass", "empty", "good", "outside"]
    assert sum(len(s.xyxy) for s in ds.samples) == 1
    text = report_text(ds)
    for name in ("outside.txt", "badclass.txt", "noimage.txt"):
        assert name in text
    assert "empty.txt" not in text


def test_stop_raises_naming_every_bad_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as e:
        load_split(_bad_yolo(tmp_path), "train", on_error="stop")
    assert len(e.value.issues) == 3
    for name in ("outside.txt", "badclass.txt", "noimage.txt"):
        assert name in str(e.value)


def test_voc_missing_image_and_unknown_class(tmp_path: Path) -> None:
    ds = _small(tmp_path)
    root = write_voc(ds, tmp_path / "voc", "train")
    (root / "images" / "img0.png").unlink()
    xml = root / "annotations" / "img1.xml"
    xml.write_text(xml.read_text().replace("<name>cat</name>", "<name>zebra</name>"))
    got = load_split(root, "train", fmt="voc", names=["cat", "dog"])
    kinds = {(i.file.name, i.kind) for i in got.issues}
    assert ("img0.xml", "missing-image") in kinds and ("img1.xml", "bad-class") in kinds


def test_coco_unknown_category_reported(tmp_path: Path) -> None:
    ds = _small(tmp_path)
    root = write_coco(ds, tmp_path / "coco", "train")
    jf = root / "annotations" / "instances_train.json"
    data = json.loads(jf.read_text())
    data["annotations"][0]["category_id"] = 99
    jf.write_text(json.dumps(data))
    got = load_split(root, "train")
    assert [i.kind for i in got.issues] == ["bad-class"]
    assert "img0.png" in str(got.issues[0].file)


def test_seeded_split_is_reproducible(tmp_path: Path) -> None:
    root = write_yolo(_small(tmp_path), tmp_path / "y", "train")
    a = load_splits(root, val_fraction=0.34, seed=3)
    b = load_splits(root, val_fraction=0.34, seed=3)
    assert [s.image_path for s in a[1].samples] == [s.image_path for s in b[1].samples]
    assert len(a[0]) + len(a[1]) == 3 and len(a[1]) == 1


def test_real_datasets_load(shared_data: Path) -> None:
    names = ("bishop,black-bishop,black-king,black-knight,black-pawn,black-queen,black-rook,"
             "white-bishop,white-king,white-knight,white-pawn,white-queen,white-rook")
    tr, va = load_splits(shared_data / "chess", names=names)
    assert (len(tr), len(va)) == (606, 58) and tr.class_counts()[0] == 3 and not tr.issues
    tr, va = load_splits(shared_data / "raccoon")
    assert (len(tr), len(va)) == (160, 40) and tr.labels == ["raccoon"]

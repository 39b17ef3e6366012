"""Write a ``Dataset`` in YOLO, VOC or COCO format (synthetic data, format conversion, tests).

Images are referenced or copied as they are; only annotations are written.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from xml.sax.saxutils import escape

from edge.core.boxes import scale_boxes, xyxy_to_cxcywh, xyxy_to_xywh_px
from edge.datasets.types import Dataset


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.resolve() != dst.resolve():
        shutil.copyfile(src, dst)


def write_yolo(ds: Dataset, root: Path, split: str) -> Path:
    """root/<split>/images + root/<split>/labels, and root/data.yaml with the names."""
    root = Path(root)
    for s in ds.samples:
        _copy(s.image_path, root / split / "images" / s.image_path.name)
        lab = root / split / "labels" / (s.image_path.stem + ".txt")
        lab.parent.mkdir(parents=True, exist_ok=True)
        c = xyxy_to_cxcywh(s.xyxy)
        lab.write_text("".join(f"{int(k)} {b[0]:.7f} {b[1]:.7f} {b[2]:.7f} {b[3]:.7f}\n"
                               for k, b in zip(s.class_ids, c)))
    import yaml

    y = root / "data.yaml"
    data = yaml.safe_load(y.read_text()) if y.is_file() else {}
    data.update({"names": list(ds.labels), "nc": len(ds.labels), split: f"{split}/images"})
    y.write_text(yaml.safe_dump(data, sort_keys=False))
    return root


def write_voc(ds: Dataset, root: Path, split: str) -> Path:
    """root/images, root/annotations/*.xml, root/ImageSets/Main/<split>.txt."""
    root = Path(root)
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    stems = []
    for s in ds.samples:
        _copy(s.image_path, root / "images" / s.image_path.name)
        w, h = s.size_wh
        objs = "".join(
            f"<object><name>{escape(ds.labels[int(k)])}</name><difficult>0</difficult><bndbox>"
            f"<xmin>{b[0]:.3f}</xmin><ymin>{b[1]:.3f}</ymin><xmax>{b[2]:.3f}</xmax><ymax>{b[3]:.3f}</ymax>"
            "</bndbox></object>"
            for k, b in zip(s.class_ids, scale_boxes(s.xyxy, (w, h))))
        (root / "annotations" / f"{s.image_path.stem}.xml").write_text(
            f"<annotation><filename>{escape(s.image_path.name)}</filename><size><width>{w}</width>"
            f"<height>{h}</height><depth>3</depth></size>{objs}</annotation>\n")
        stems.append(s.image_path.stem)
    sets = root / "ImageSets" / "Main"
    sets.mkdir(parents=True, exist_ok=True)
    (sets / f"{split}.txt").write_text("".join(f"{s}\n" for s in stems))
    return root


def coco_dict(ds: Dataset) -> dict:
    """COCO ground truth; category id = class id + 1, image id = index + 1."""
    images, anns = [], []
    for i, s in enumerate(ds.samples, 1):
        w, h = s.size_wh
        images.append({"id": i, "file_name": s.image_path.name, "width": w, "height": h})
        for k, b in zip(s.class_ids, xyxy_to_xywh_px(scale_boxes(s.xyxy, (w, h)))):
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": int(k) + 1,
                         "bbox": [round(float(v), 4) for v in b], "area": float(b[2] * b[3]),
                         "iscrowd": 0})
    cats = [{"id": i + 1, "name": n} for i, n in enumerate(ds.labels)]
    return {"images": images, "annotations": anns, "categories": cats}


def write_coco(ds: Dataset, root: Path, split: str) -> Path:
    """root/images/<split>/*, root/annotations/instances_<split>.json."""
    root = Path(root)
    for s in ds.samples:
        _copy(s.image_path, root / "images" / split / s.image_path.name)
    out = root / "annotations" / f"instances_{split}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(coco_dict(ds)))
    return root

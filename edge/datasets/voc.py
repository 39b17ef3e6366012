"""Pascal VOC XML: one ``<annotation>`` per image, pixel ``<bndbox>`` corners.

Coordinates are taken as written (no VOC 1-based shift) so that a dataset written by
``writers.write_voc`` reads back to identical boxes. Splits come from
``ImageSets/Main/<split>.txt`` or ``splits/<split>_labels.csv`` (a ``filename`` column).
"""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from edge.datasets.types import (
    Dataset,
    Issue,
    Sample,
    check_boxes,
    check_on_error,
    finish,
    image_size_wh,
)


def annotation_dir(root: Path) -> Path:
    for d in (root / "annotations", root / "Annotations", root):
        if d.is_dir() and any(d.glob("*.xml")):
            return d
    raise FileNotFoundError(f"{root}: no VOC XML files in annotations/, Annotations/ or the folder itself")


def image_dir(root: Path) -> Path:
    for d in (root / "images", root / "JPEGImages"):
        if d.is_dir():
            return d
    return root


def split_stems(root: Path) -> dict[str, list[str]]:
    """split -> image stems, from ImageSets/Main/*.txt or splits/*_labels.csv; {} if none."""
    out: dict[str, list[str]] = {}
    main = root / "ImageSets" / "Main"
    for split in ("train", "val", "test"):
        f = main / f"{split}.txt"
        if f.is_file():
            out[split] = [ln.split()[0] for ln in f.read_text().splitlines() if ln.strip()]
    for f in sorted((root / "splits").glob("*_labels.csv")) if (root / "splits").is_dir() else []:
        with f.open(newline="") as fh:
            reader = csv.DictReader(fh)
            if "filename" not in (reader.fieldnames or []):
                raise ValueError(f"{f}: split CSV needs a 'filename' column, has {reader.fieldnames}")
            stems = list(dict.fromkeys(Path(r["filename"]).stem for r in reader))
        out[f.stem.removesuffix("_labels")] = stems
    return out


def scan_labels(xml_files: list[Path]) -> list[str]:
    """Sorted object names over all files (when the caller gives no label list)."""
    names = set()
    for x in xml_files:
        try:
            names.update((o.findtext("name") or "").strip() for o in ET.parse(x).getroot().iter("object"))
        except ET.ParseError:
            continue
    return sorted(n for n in names if n)


def _parse(xml: Path, images: Path, labels: list[str], issues: list[Issue]) -> Sample | None:
    try:
        root = ET.parse(xml).getroot()
    except ET.ParseError as e:
        issues.append(Issue(xml, f"not valid XML: {e}", "malformed"))
        return None
    fname = (root.findtext("filename") or "").strip()
    img = images / fname if fname else images / (xml.stem + ".jpg")
    if not img.is_file():
        issues.append(Issue(xml, f"image {img} is missing", "missing-image"))
        return None
    objs = root.findall("object")
    if not objs:
        issues.append(Issue(xml, "annotation has no <object> (no boxes)", "empty"))
        return None
    try:
        size = (int(float(root.findtext("size/width"))), int(float(root.findtext("size/height"))))
    except (TypeError, ValueError):
        size = None
    if size is None or min(size) <= 0:
        size = image_size_wh(img)
        if size is None:
            issues.append(Issue(xml, f"no <size> and image {img} is unreadable", "missing-image"))
            return None
    index = {n: i for i, n in enumerate(labels)}
    boxes, cls = [], []
    for k, o in enumerate(objs):
        name = (o.findtext("name") or "").strip()
        try:
            b = [float(o.findtext(f"bndbox/{t}")) for t in ("xmin", "ymin", "xmax", "ymax")]
        except (TypeError, ValueError):
            issues.append(Issue(xml, f"object {k} ({name!r}): <bndbox> needs numeric "
                                "xmin, ymin, xmax, ymax", "malformed"))
            continue
        boxes.append(b)
        cls.append(index.get(name, -1))
        if name not in index:
            issues.append(Issue(xml, f"object {k}: class {name!r} is not in the labels {labels}",
                                "bad-class"))
    w, h = size
    xyxy = np.asarray(boxes, np.float32).reshape(-1, 4) / np.array([w, h, w, h], np.float32)
    cls_a = np.asarray(cls, np.int32)
    known = cls_a >= 0
    xyxy, cls_a = xyxy[known], cls_a[known]
    keep = check_boxes(xyxy, cls_a, len(labels), xml, issues)
    return Sample(img, size, xyxy[keep], cls_a[keep])


def read_voc(root: Path, labels: list[str] | None = None, stems: list[str] | None = None,
             name: str = "", on_error: str = "skip") -> Dataset:
    """Read VOC XML files under ``root`` (all, or those whose stem is in ``stems``)."""
    check_on_error(on_error)
    root = Path(root)
    ann = annotation_dir(root)
    files = sorted(ann.glob("*.xml"))
    issues: list[Issue] = []
    if stems is not None:
        by_stem = {f.stem: f for f in files}
        missing = [s for s in stems if s not in by_stem]
        issues.extend(Issue(ann / f"{s}.xml", "listed in the split but has no annotation file",
                            "no-annotation") for s in missing)
        files = [by_stem[s] for s in stems if s in by_stem]
    if labels is None:
        labels = scan_labels(sorted(ann.glob("*.xml")))
    images = image_dir(root)
    samples = [s for s in (_parse(f, images, labels, issues) for f in files) if s is not None]
    return finish(samples, labels, name, issues, on_error)

"""COCO JSON detection datasets: ``images``, ``annotations`` (bbox = pixel x, y, w, h), ``categories``.

Labels are the category names ordered by category id; class id = position in that order.
Files found: ``annotations/instances_<split>.json``, ``<split>/_annotations.coco.json``
(Roboflow) or a single ``*.json`` at the root.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edge.core.boxes import normalize_boxes, xywh_px_to_xyxy
from edge.datasets.types import (
    SPLIT_ALIASES,
    Dataset,
    Issue,
    Sample,
    check_boxes,
    check_on_error,
    finish,
)


def split_files(root: Path) -> dict[str, Path]:
    root = Path(root)
    if root.is_file():
        return {"all": root}
    out: dict[str, Path] = {}
    for split, aliases in SPLIT_ALIASES.items():
        for a in aliases:
            for cand in (root / "annotations" / f"instances_{a}.json", root / a / "_annotations.coco.json",
                         root / f"{a}.json", root / "annotations" / f"{a}.json"):
                if cand.is_file() and split not in out:
                    out[split] = cand
    if not out:
        js = sorted(root.glob("*.json")) + sorted((root / "annotations").glob("*.json"))
        if len(js) == 1:
            out["all"] = js[0]
    return out


def _image_root(json_path: Path, split: str) -> list[Path]:
    d = json_path.parent
    base = d.parent if d.name == "annotations" else d
    return [d, base / "images" / split, base / split, base / "images", base]


def read_coco(json_path: Path, split: str = "", images_dir: Path | None = None,
              on_error: str = "skip") -> Dataset:
    """Read one COCO JSON file; images are looked up next to it unless ``images_dir`` is given."""
    check_on_error(on_error)
    json_path = Path(json_path)
    try:
        data = json.loads(json_path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{json_path}: not valid JSON: {e}") from e
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise ValueError(f"{json_path}: field '{key}' must be a list")
    cats = sorted(data["categories"], key=lambda c: c["id"])
    labels = [str(c["name"]) for c in cats]
    cat_index = {c["id"]: i for i, c in enumerate(cats)}
    by_image: dict[int, list[dict]] = {}
    for a in data["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    roots = [images_dir] if images_dir is not None else _image_root(json_path, split)
    issues: list[Issue] = []
    samples: list[Sample] = []
    for im in data["images"]:
        fname = im.get("file_name", "")
        img = next((r / fname for r in roots if (r / fname).is_file()), roots[0] / fname)
        where = Path(f"{json_path}#{fname}")
        if not img.is_file():
            issues.append(Issue(where, f"image {img} is missing", "missing-image"))
            continue
        anns = [a for a in by_image.get(im["id"], []) if not a.get("iscrowd", 0)]
        if not anns:
            issues.append(Issue(where, "image has no annotations (no boxes)", "empty"))
            continue
        w, h = int(im["width"]), int(im["height"])
        xyxy = normalize_boxes(xywh_px_to_xyxy(np.asarray([a["bbox"] for a in anns], np.float32)), (w, h))
        cls = np.asarray([cat_index.get(a["category_id"], len(labels) + a["category_id"])
                          for a in anns], np.int32)
        keep = check_boxes(xyxy, cls, len(labels), where, issues)
        samples.append(Sample(img, (w, h), xyxy[keep], cls[keep]))
    return finish(samples, labels, split, issues, on_error)

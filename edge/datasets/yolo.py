"""YOLO txt datasets: one ``class xc yc w h`` line per box (normalized), one file per image.

Layouts understood (``images`` -> ``labels`` swaps the last ``images`` folder):
``root/<split>/images`` (Roboflow), ``root/images/<split>`` (Ultralytics), ``root/images``;
plus whatever ``data.yaml`` names under ``train`` / ``val`` / ``test``. Label names come
from ``data.yaml`` ``names``, a names file (``classes.txt``, ``*.names``) or the caller.
An empty label file is a background image (no objects, the Ultralytics convention): it is
kept, and its detections count as false positives; a missing label file is an issue.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.core.boxes import cxcywh_to_xyxy
from edge.datasets.types import (
    IMAGE_SUFFIXES,
    SPLIT_ALIASES,
    Dataset,
    Issue,
    Sample,
    check_boxes,
    check_on_error,
    finish,
    image_size_wh,
)


def _read_yaml(path: Path) -> dict:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping with 'names', got {type(data).__name__}")
    return data


def names_from_yaml(data: dict, path: Path) -> list[str]:
    names = data.get("names")
    if isinstance(names, dict):
        return [str(names[k]) for k in sorted(names, key=int)]
    if isinstance(names, list) and names:
        return [str(n) for n in names]
    raise ValueError(f"{path}: field 'names' must be a non-empty list or {{id: name}} mapping")


def read_names_file(path: Path) -> list[str]:
    names = [ln.strip() for ln in Path(path).read_text().splitlines() if ln.strip()]
    if not names:
        raise ValueError(f"{path}: names file is empty (expected one class name per line)")
    return names


YAML_SUFFIXES = (".yaml", ".yml")


def is_data_yaml(root: Path) -> bool:
    """``root`` is a dataset YAML itself (``--data data.yaml``, what Ultralytics users type)."""
    return Path(root).suffix.lower() in YAML_SUFFIXES and Path(root).is_file()


def find_names(root: Path) -> list[str] | None:
    """Labels from the data YAML (``root`` itself, or root/data.yaml), root/classes.txt or
    root/*.names; None if none exists."""
    if is_data_yaml(root):
        return names_from_yaml(_read_yaml(root), root)
    for y in (root / "data.yaml", root / "dataset.yaml"):
        if y.is_file():
            return names_from_yaml(_read_yaml(y), y)
    for f in [root / "classes.txt", *sorted(root.glob("*.names"))]:
        if f.is_file():
            return read_names_file(f)
    return None


def _yaml_base(data: dict, root: Path) -> Path:
    """The folder ``train`` / ``val`` / ``test`` are relative to: ``path`` when given
    (absolute, else next to the YAML, else from the working directory as Ultralytics
    resolves it), otherwise the YAML's own folder."""
    if not data.get("path"):
        return root
    p = Path(str(data["path"]))
    if p.is_absolute() or (root / p).is_dir() or not p.is_dir():
        return root / p
    return p.resolve()


def split_dirs(root: Path) -> dict[str, Path]:
    """split name (train/val/test) -> images folder, from the data YAML (``root`` itself or
    root/data.yaml) or the folder layout."""
    root = Path(root)
    out: dict[str, Path] = {}
    y = root if is_data_yaml(root) else root / "data.yaml"
    root = y.parent if y is root else root
    if y.is_file():
        data = _read_yaml(y)
        base = _yaml_base(data, root)
        for split in SPLIT_ALIASES:
            if isinstance(data.get(split), str):
                p = (base / data[split]).resolve()
                if not p.is_dir():  # Roboflow writes ../train/images relative to a sub-folder
                    p = (root / Path(data[split]).name).resolve()
                    p = p if p.is_dir() else (root / data[split].lstrip("./")).resolve()
                out[split] = p
        if out:
            return out
    for split, aliases in SPLIT_ALIASES.items():
        for a in aliases:
            for cand in (root / a / "images", root / "images" / a):
                if cand.is_dir() and split not in out:
                    out[split] = cand
    if not out and (root / "images").is_dir():
        out["all"] = root / "images"
    return out


def labels_path(image: Path) -> Path:
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def _parse(txt: Path, issues: list[Issue]) -> tuple[np.ndarray, np.ndarray] | None:
    text = txt.read_text()
    if not text.strip():  # Ultralytics: an empty label file is a background image, kept
        return np.zeros((0, 4), np.float32), np.zeros(0, np.int32)
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        f = line.split()
        try:
            if len(f) != 5:
                raise ValueError
            rows.append([float(v) for v in f])
        except ValueError:
            issues.append(Issue(txt, f"line {n}: expected 'class xc yc w h' (5 numbers), "
                                f"got {line.strip()!r}", "malformed"))
            return None
    a = np.asarray(rows, np.float64)
    if np.any(a[:, 0] != np.round(a[:, 0])):
        issues.append(Issue(txt, "class ids must be whole numbers", "malformed"))
        return None
    return cxcywh_to_xyxy(a[:, 1:5]).astype(np.float32), a[:, 0].astype(np.int32)


def read_yolo_split(images_dir: Path, labels: list[str], name: str = "",
                    on_error: str = "skip") -> Dataset:
    """Read every image under ``images_dir`` and its label file."""
    check_on_error(on_error)
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise FileNotFoundError(f"YOLO images folder {images_dir} does not exist")
    issues: list[Issue] = []
    samples: list[Sample] = []
    images = sorted(p for p in images_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    seen = set()
    for img in images:
        txt = labels_path(img)
        seen.add(txt)
        if not txt.is_file():
            issues.append(Issue(img, f"no annotation file (expected {txt})", "no-annotation"))
            continue
        size = image_size_wh(img)
        if size is None:
            issues.append(Issue(img, "image is missing or unreadable", "missing-image"))
            continue
        parsed = _parse(txt, issues)
        if parsed is None:
            continue
        xyxy, cls = parsed
        keep = check_boxes(xyxy, cls, len(labels), txt, issues)
        samples.append(Sample(img, size, xyxy[keep], cls[keep]))
    labels_dir = labels_path(images_dir / "x.jpg").parent
    if labels_dir.is_dir():
        for txt in sorted(labels_dir.rglob("*.txt")):
            if txt not in seen:
                issues.append(Issue(txt, "annotation file has no image (looked for "
                                    f"{txt.stem}.jpg/.png/... in {images_dir})", "missing-image"))
    return finish(samples, labels, name, issues, on_error)

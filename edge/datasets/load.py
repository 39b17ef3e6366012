"""Open a dataset folder in any supported format and return its train / val splits.

``load_splits`` detects the format (YOLO txt, Pascal VOC XML, COCO JSON), uses the
dataset's own splits when it has them and otherwise splits by seed. Every bad
annotation is either reported (kept on ``Dataset.issues``, printed by the report) or
stops the load (``on_error='stop'``); nothing is dropped silently.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.datasets import coco, voc, yolo
from edge.datasets.types import Dataset, check_on_error

FORMATS = ("yolo", "voc", "coco")


def detect_format(root: Path) -> str:
    root = Path(root)
    if root.is_file() and root.suffix == ".json":
        return "coco"
    if yolo.is_data_yaml(root):  # `--data data.yaml`: a YOLO dataset described by its YAML
        return "yolo"
    if not root.is_dir():
        raise FileNotFoundError(f"dataset {root} does not exist")
    if coco.split_files(root):
        return "coco"
    if any(root.glob("*.xml")) or any((root / d).is_dir() and any((root / d).glob("*.xml"))
                                      for d in ("annotations", "Annotations")):
        return "voc"
    if yolo.split_dirs(root):
        return "yolo"
    raise ValueError(f"{root}: cannot tell the dataset format (expected YOLO images/ + labels/, "
                     "VOC annotations/*.xml, or COCO *.json); pass fmt= / --format")


def parse_names(names: str | Path | list[str] | None) -> list[str] | None:
    """Labels from a list, a names file, or a comma-separated string."""
    if names is None or isinstance(names, list):
        return names
    p = Path(names)
    if p.is_file():
        return yolo.read_names_file(p)
    parts = [n.strip() for n in str(names).split(",") if n.strip()]
    if not parts:
        raise ValueError(f"names {names!r}: expected a names file or a comma-separated list")
    return parts


def _split_by_seed(ds: Dataset, val_fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    order = np.random.default_rng(seed).permutation(len(ds))
    n_val = max(1, round(len(ds) * val_fraction))
    return ds.subset(np.sort(order[n_val:]), "train"), ds.subset(np.sort(order[:n_val]), "val")


def load_split(root: Path, split: str, fmt: str | None = None,
               names: str | Path | list[str] | None = None, on_error: str = "skip") -> Dataset:
    """One named split (``train``, ``val``, ``test``, or ``all``)."""
    check_on_error(on_error)
    root = Path(root)
    fmt = fmt or detect_format(root)
    labels = parse_names(names)
    if fmt == "yolo":
        dirs = yolo.split_dirs(root)
        if split not in dirs:
            raise ValueError(f"{root}: no YOLO split {split!r}; found {sorted(dirs)}")
        labels = labels or yolo.find_names(root)
        if labels is None:
            raise ValueError(f"{root}: YOLO dataset has no data.yaml or names file; pass the "
                             "class names (names= / --names a,b,c or a file, one per line)")
        return yolo.read_yolo_split(dirs[split], labels, split, on_error)
    if fmt == "voc":
        stems = voc.split_stems(root)
        if split != "all" and split not in stems:
            raise ValueError(f"{root}: no VOC split {split!r}; found {sorted(stems) or 'none'}")
        return voc.read_voc(root, labels, None if split == "all" else stems[split], split, on_error)
    if fmt == "coco":
        files = coco.split_files(root)
        if split not in files:
            raise ValueError(f"{root}: no COCO split {split!r}; found {sorted(files)}")
        ds = coco.read_coco(files[split], split, on_error=on_error)
        if labels is not None and labels != ds.labels:
            raise ValueError(f"{files[split]}: categories {ds.labels} differ from the names given {labels}")
        return ds
    raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")


def names_own_classes(root: Path, fmt: str | None = None) -> bool:
    """False only for a YOLO dataset naming no classes (no data.yaml or names file): the
    caller must supply names. VOC and COCO annotations carry their class names."""
    root = Path(root)
    return (fmt or detect_format(root)) != "yolo" or yolo.find_names(root) is not None


def available_splits(root: Path, fmt: str | None = None) -> list[str]:
    root = Path(root)
    fmt = fmt or detect_format(root)
    if fmt == "yolo":
        return sorted(yolo.split_dirs(root))
    if fmt == "voc":
        return sorted(voc.split_stems(root)) or ["all"]
    return sorted(coco.split_files(root))


VAL_NAMES = ("val", "test")


def load_splits(root: Path, fmt: str | None = None, names: str | Path | list[str] | None = None,
                on_error: str = "skip", train_split: str | None = None, val_split: str | None = None,
                val_fraction: float = 0.2, seed: int = 0) -> tuple[Dataset, Dataset]:
    """(train, val). Uses the dataset's splits when present, else a seeded random split."""
    root = Path(root)
    fmt = fmt or detect_format(root)
    have = available_splits(root, fmt)
    train_split = train_split or ("train" if "train" in have else "all" if "all" in have else None)
    if train_split is None:
        raise ValueError(f"{root}: no 'train' split among {have}; pass train_split / --train-split")
    val_split = val_split or next((s for s in VAL_NAMES if s in have), None)
    train = load_split(root, train_split, fmt, names, on_error)
    if val_split is None:
        return _split_by_seed(train, val_fraction, seed)
    val = load_split(root, val_split, fmt, names or train.labels, on_error)
    return train, val

"""Dataset value types shared by the readers, evaluation and training.

Boxes follow GUIDE §3: ``xyxy`` float32 (N, 4) normalized to the *image* (not a model
input); class ids are 0-based indices into ``Dataset.labels``. No TensorFlow here: the
device runs ``edge eval`` with these readers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ON_ERROR = ("skip", "stop")


@dataclass(frozen=True)
class Sample:
    """One image and its boxes.

    xyxy: (N, 4) float32 normalized to the image; class_ids: (N,) int32.
    size_wh: image width, height in pixels.
    """

    image_path: Path
    size_wh: tuple[int, int]
    xyxy: np.ndarray
    class_ids: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "xyxy", np.asarray(self.xyxy, np.float32).reshape(-1, 4))
        object.__setattr__(self, "class_ids", np.asarray(self.class_ids, np.int32).reshape(-1))
        if len(self.xyxy) != len(self.class_ids):
            raise ValueError(f"{self.image_path}: {len(self.xyxy)} boxes but "
                             f"{len(self.class_ids)} class ids")


@dataclass(frozen=True)
class Issue:
    """A problem found while loading: the file, what is wrong, and what was done."""

    file: Path
    problem: str
    kind: str  # box-outside | bad-class | missing-image | empty | malformed | no-annotation

    def __str__(self) -> str:
        return f"{self.file}: {self.problem}"


class DatasetError(ValueError):
    """Loading stopped on bad annotations (``on_error='stop'``); lists every issue found."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        lines = "\n  ".join(str(i) for i in issues[:50])
        more = f"\n  ... and {len(issues) - 50} more" if len(issues) > 50 else ""
        super().__init__(f"{len(issues)} bad annotation(s) (use on_error='skip' / --on-error skip "
                         f"to skip them):\n  {lines}{more}")


@dataclass
class Dataset:
    """Samples of one split plus the label list and what loading found wrong."""

    samples: list[Sample]
    labels: list[str]
    name: str = ""
    issues: list[Issue] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.samples)

    def all_boxes(self) -> tuple[np.ndarray, np.ndarray]:
        """All boxes as (xyxy (M, 4) normalized to their images, size_wh (M, 2) of their images)."""
        if not self.samples:
            return np.zeros((0, 4), np.float32), np.zeros((0, 2), np.float32)
        xyxy = np.concatenate([s.xyxy for s in self.samples])
        wh = np.concatenate([np.tile(np.asarray(s.size_wh, np.float32), (len(s.xyxy), 1))
                             for s in self.samples])
        return xyxy, wh

    def class_counts(self) -> Counter:
        c: Counter = Counter()
        for s in self.samples:
            c.update(int(i) for i in s.class_ids)
        return c

    def subset(self, indices: list[int] | np.ndarray, name: str) -> Dataset:
        return Dataset([self.samples[int(i)] for i in indices], self.labels, name, list(self.issues))


def check_on_error(on_error: str) -> None:
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")


def finish(samples: list[Sample], labels: list[str], name: str, issues: list[Issue],
           on_error: str) -> Dataset:
    """Raise on issues under 'stop'; otherwise keep them on the dataset for the report."""
    if issues and on_error == "stop":
        raise DatasetError(issues)
    return Dataset(samples, labels, name, issues)


# boxes may poke out of the image by rounding in exporters; more than this is an error
EDGE_TOLERANCE = 1e-3


def check_boxes(xyxy: np.ndarray, class_ids: np.ndarray, num_labels: int, file: Path,
                issues: list[Issue]) -> np.ndarray:
    """Validate boxes (normalized xyxy) and class ids; returns a keep mask, records issues.

    Boxes within EDGE_TOLERANCE of the border are clipped (exporter rounding), not reported.
    """
    keep = np.ones(len(xyxy), bool)
    for i, (b, c) in enumerate(zip(xyxy, class_ids)):
        if c < 0 or c >= num_labels:
            issues.append(Issue(file, f"box {i}: class id {int(c)} is beyond the {num_labels} "
                                f"labels (expected 0..{num_labels - 1})", "bad-class"))
            keep[i] = False
        elif b.min() < -EDGE_TOLERANCE or b.max() > 1 + EDGE_TOLERANCE:
            issues.append(Issue(file, f"box {i} {np.round(b, 4).tolist()} lies outside the image "
                                "(normalized coordinates must be in [0, 1])", "box-outside"))
            keep[i] = False
        elif b[2] - b[0] <= 0 or b[3] - b[1] <= 0:
            issues.append(Issue(file, f"box {i} {np.round(b, 4).tolist()} has no area "
                                "(expected x_max > x_min and y_max > y_min)", "box-outside"))
            keep[i] = False
    np.clip(xyxy, 0.0, 1.0, out=xyxy)
    return keep


def image_size_wh(path: Path) -> tuple[int, int] | None:
    """Width, height as the one image reader decodes it (EXIF orientation applied), from
    the header; None if unreadable."""
    from edge.core.image_file import exif_size_wh

    return exif_size_wh(path)


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
# split names as Roboflow, Ultralytics and COCO exports spell them
SPLIT_ALIASES = {"train": ("train",), "val": ("val", "valid", "validation"), "test": ("test",)}

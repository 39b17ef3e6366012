"""Pair a model's classes with a dataset's by name, so a COCO model can be scored on a
dataset of ``cat``/``dog``/``person``: index pairing would call COCO id 83 a dataset class.

Only the classes both sides share are scored: the dataset's other boxes are left out of the
ground truth (the model cannot find what it was never taught), the model's other detections
are dropped (they are not errors on this dataset). ``LabelMatch.note`` says what was left out.
Used by ``edge eval``, ``edge profile`` and ``edge convert``'s parity check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge.core.boxes import Detections
from edge.datasets.types import Dataset, Sample

# labelmap placeholders for unused ids (TF OD API "???"): never a class
PLACEHOLDERS = ("???", "")


@dataclass(frozen=True)
class LabelMatch:
    """shared: scored class names, in dataset order; model_to_shared / dataset_to_shared:
    (num labels,) int64 class id -> shared id, -1 where not scored."""

    shared: list[str]
    model_to_shared: np.ndarray
    dataset_to_shared: np.ndarray
    model_only: list[str]
    dataset_only: list[str]

    @property
    def is_identity(self) -> bool:
        n = len(self.shared)
        return (len(self.model_to_shared) == n and len(self.dataset_to_shared) == n
                and bool(np.all(self.model_to_shared == np.arange(n)))
                and bool(np.all(self.dataset_to_shared == np.arange(n))))

    def note(self) -> str:
        """One line: what is scored and what was left out (empty when the lists agree)."""
        if self.is_identity:
            return ""
        parts = [f"scoring the {len(self.shared)} class(es) model and dataset share by name: {self.shared}"]
        if self.dataset_only:
            parts.append(f"left out dataset classes the model lacks: {self.dataset_only}")
        if self.model_only:
            shown = self.model_only[:10]
            more = f" and {len(self.model_only) - 10} more" if len(self.model_only) > 10 else ""
            parts.append(f"dropped detections of model classes not in the dataset: {shown}{more}")
        return "; ".join(parts)

    def restrict(self, ds: Dataset) -> Dataset:
        """``ds`` with only the shared classes' boxes, ids renumbered to ``shared``."""
        if self.is_identity:
            return ds
        samples = []
        for s in ds.samples:
            ids = self.dataset_to_shared[s.class_ids] if len(s.class_ids) else s.class_ids
            keep = ids >= 0
            samples.append(Sample(s.image_path, s.size_wh, s.xyxy[keep], ids[keep]))
        return Dataset(samples, list(self.shared), ds.name, list(ds.issues))

    def remap(self, dets: Detections) -> Detections:
        """Detections with model class ids renumbered to ``shared``; others dropped."""
        if self.is_identity:
            return dets
        m = self.model_to_shared
        ids = np.where(dets.class_ids < len(m), m[np.clip(dets.class_ids, 0, len(m) - 1)], -1)
        keep = ids >= 0
        return Detections(dets.xyxy[keep], dets.scores[keep], ids[keep], tuple(self.shared))


def match_labels(model_labels: list[str] | None, dataset_labels: list[str],
                 aliases: dict[str, str] | None = None) -> LabelMatch | None:
    """Pair by name (``aliases``: model label -> dataset label). None when the model has no
    labels: its class ids are then taken as the dataset's. ValueError when nothing is shared."""
    if model_labels is None:
        return None
    aliases = aliases or {}
    index = {name: i for i, name in enumerate(dataset_labels)}
    model_to_dataset = np.array([index.get(aliases.get(n, n), -1) for n in model_labels], np.int64)
    used = sorted(set(int(i) for i in model_to_dataset if i >= 0))
    if not used:
        raise ValueError(f"no class is shared by name: model labels {_short(model_labels)}, dataset "
                         f"labels {dataset_labels}; map them (edge profile --map-label model=dataset) "
                         "or pass the right --labels / --names")
    shared_of = {d: k for k, d in enumerate(used)}
    dataset_to_shared = np.array([shared_of.get(i, -1) for i in range(len(dataset_labels))], np.int64)
    model_to_shared = np.array([shared_of.get(int(d), -1) for d in model_to_dataset], np.int64)
    return LabelMatch([dataset_labels[d] for d in used], model_to_shared, dataset_to_shared,
                      [n for n, s in zip(model_labels, model_to_shared) if s < 0 and n not in PLACEHOLDERS],
                      [dataset_labels[i] for i in range(len(dataset_labels)) if dataset_to_shared[i] < 0])


def scored_pair(detect_fn: Callable[[np.ndarray], Detections], ds: Dataset,
                match: LabelMatch | None) -> tuple[Callable[[np.ndarray], Detections], Dataset]:
    """(detect function, dataset) restricted to the shared classes; unchanged without a match."""
    if match is None or match.is_identity:
        return detect_fn, ds
    return (lambda img: match.remap(detect_fn(img))), match.restrict(ds)


def model_class_labels(det: object) -> list[str] | None:
    """A detector's labels indexed by the class ids it emits (background entry skipped)."""
    labels = getattr(det, "labels", None)
    return list(labels[getattr(det, "label_offset", 0):]) if labels else None


def _short(labels: list[str], n: int = 12) -> str:
    real = [x for x in labels if x not in PLACEHOLDERS]
    return str(real[:n])[:-1] + (f", ... {len(real) - n} more]" if len(real) > n else "]")

"""The labelled validation sample a package carries, and the one measurement made on it.

Packaging and the on-box accuracy gate both call ``measure``: the same Detector (TFLite
interpreter), the same operating point as ``edge eval`` (score 0.01, 100 detections), the
same pycocotools scoring, so the two mAP figures differ only by what differs between the
machines (interpreter build, delegate), which is what the gate is for.
"""

from __future__ import annotations

import shutil
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edge.datasets.types import Dataset, Sample
from edge.fleet.manifest import SAMPLE_SPLIT

if TYPE_CHECKING:
    from edge.detector import Detector


@dataclass
class Measurement:
    map50: float
    map: float
    per_class_ap50: dict[str, float]
    images: int
    boxes: int
    invoke_ms: list[float] = field(default_factory=list)

    @property
    def invoke_ms_median(self) -> float | None:
        """Median invoke over the sample; the first (warm-up: allocation, delegate
        set-up) is left out when there are others."""
        t = self.invoke_ms[1:] if len(self.invoke_ms) > 1 else self.invoke_ms
        return statistics.median(t) if t else None


def pick_sample(ds: Dataset, n: int) -> Dataset:
    """``n`` images with at least one box, spread evenly over the split (deterministic).
    ValueError when the split has no labelled image."""
    if n < 1:
        raise ValueError(f"--sample must be >= 1, got {n}")
    labelled = [s for s in ds.samples if len(s.class_ids)]
    if not labelled:
        raise ValueError(f"{ds.name or 'dataset'}: no labelled image (no image with a box of "
                         f"{list(ds.labels)}); the sample must have ground truth to score")
    idx = np.unique(np.linspace(0, len(labelled) - 1, min(n, len(labelled))).round().astype(int))
    return Dataset([labelled[i] for i in idx], list(ds.labels), ds.name)


def write_sample(ds: Dataset, root: Path) -> Path:
    """``root/data.yaml`` + ``root/val/{images,labels}`` (YOLO), images copied under unique
    names (``000_<name>``: splits may hold the same name in two folders)."""
    from edge.datasets.writers import write_yolo

    images = root / SAMPLE_SPLIT / "images"
    images.mkdir(parents=True, exist_ok=True)
    copied = []
    for i, s in enumerate(ds.samples):
        dst = images / f"{i:03d}_{s.image_path.name}"
        shutil.copyfile(s.image_path, dst)
        copied.append(Sample(dst, s.size_wh, s.xyxy, s.class_ids))
    write_yolo(Dataset(copied, list(ds.labels), SAMPLE_SPLIT), root, SAMPLE_SPLIT)
    return root


def load_sample(root: Path) -> Dataset:
    """The sample as written by ``write_sample``; bad annotations stop the load (a
    package's sample is made by us: an issue there means corruption, not a user's data)."""
    from edge.datasets import load_split

    return load_split(root, SAMPLE_SPLIT, "yolo", on_error="stop")


def measure(model: Path, labels: Path | None, sample: Dataset, *, threads: int | None = None,
            delegate: str = "cpu") -> Measurement:
    """mAP@0.5, mAP@[.5:.95] and per-image invoke ms of ``model`` on ``sample`` through the
    device's Detector. Raises RuntimeError (with the install hint) without pycocotools."""
    return measure_detector(load_for_eval(model, labels, threads=threads, delegate=delegate),
                            sample)


def load_for_eval(model: Path, labels: Path | None, *, threads: int | None = None,
                  delegate: str = "cpu") -> Detector:
    """``model`` as a Detector at the evaluation operating point of ``edge eval``."""
    from edge.detector import Detector
    from edge.evaluation.cli import EVAL_MAX_DETECTIONS, EVAL_SCORE

    return Detector.load(model, labels=labels, threads=threads, delegate=delegate,
                         score=EVAL_SCORE, max_detections=EVAL_MAX_DETECTIONS)


def measure_detector(det: Detector, sample: Dataset) -> Measurement:
    """``measure`` with a Detector already loaded (``load_for_eval``)."""
    from edge.evaluation.evaluate import evaluate_detector
    from edge.evaluation.labels import match_labels, model_class_labels, scored_pair

    invoke: list[float] = []

    def detect(image_bgr: np.ndarray):
        dets, timings = det.detect_with_timings(image_bgr)
        invoke.append(timings["invoke"])
        return dets

    match = match_labels(model_class_labels(det), list(sample.labels))
    fn, scored = scored_pair(detect, sample, match)
    boxes = sum(len(s.class_ids) for s in scored.samples)
    if boxes == 0:
        raise ValueError(f"the sample has no box of the model's classes {model_class_labels(det)}")
    result = evaluate_detector(fn, scored, progress=False)
    return Measurement(result.map50, result.map, dict(result.per_class_ap50), len(scored),
                       boxes, invoke)

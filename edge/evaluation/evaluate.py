"""Score any detector on a dataset: ``evaluate_detector(detect_fn, dataset)``.

``detect_fn(image_bgr) -> Detections`` normalized to that image (what
``edge.detector.Detector.detect`` and ``train.keras_detector.KerasDetector.detect`` return),
so the device's own path is what gets measured.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable

import numpy as np

from edge.core.boxes import Detections, scale_boxes, xyxy_to_xywh_px
from edge.core.image_file import read_image_bgr as read_bgr  # the one reader; name kept for callers
from edge.datasets.types import Dataset
from edge.datasets.writers import coco_dict
from edge.evaluation.coco import CocoResult, evaluate_coco

DetectFn = Callable[[np.ndarray], Detections]


def detections_to_coco(dets: Detections, image_id: int, size_wh: tuple[int, int],
                       num_classes: int) -> list[dict]:
    """COCO result rows (category id = class id + 1); classes beyond the labels are an error."""
    if len(dets) and (dets.class_ids.min() < 0 or dets.class_ids.max() >= num_classes):
        raise ValueError(f"detector returned class id {int(dets.class_ids.max())} but the dataset has "
                         f"{num_classes} labels; do the model's labels match the dataset's?")
    xywh = xyxy_to_xywh_px(scale_boxes(np.clip(dets.xyxy, 0, 1), size_wh))
    return [{"image_id": image_id, "category_id": int(c) + 1,
             "bbox": [round(float(v), 3) for v in b], "score": round(float(s), 5)}
            for b, s, c in zip(xywh, dets.scores, dets.class_ids)]


def _progress(it: Iterable, total: int, show: bool, desc: str) -> Iterable:
    if not show or not sys.stderr.isatty():
        # tqdm redraws with ANSI codes: in a pipe, log file or journal they are noise
        return it
    try:
        from tqdm import tqdm
    except ImportError:
        return it
    return tqdm(it, total=total, desc=desc, unit="img", leave=False)


def evaluate_detector(detect_fn: DetectFn, dataset: Dataset, progress: bool = True) -> CocoResult:
    """Run ``detect_fn`` on every image of ``dataset`` and score it with pycocotools."""
    rows: list[dict] = []
    for i, s in enumerate(_progress(dataset.samples, len(dataset), progress, "eval"), 1):
        rows.extend(detections_to_coco(detect_fn(read_bgr(s.image_path)), i, s.size_wh,
                                       len(dataset.labels)))
    return evaluate_coco(coco_dict(dataset), rows)


def evaluate_predictions(predictions: list[Detections], dataset: Dataset) -> CocoResult:
    """Score precomputed detections (one per sample, normalized to that image)."""
    if len(predictions) != len(dataset):
        raise ValueError(f"{len(predictions)} predictions for {len(dataset)} images")
    rows: list[dict] = []
    for i, (d, s) in enumerate(zip(predictions, dataset.samples), 1):
        rows.extend(detections_to_coco(d, i, s.size_wh, len(dataset.labels)))
    return evaluate_coco(coco_dict(dataset), rows)

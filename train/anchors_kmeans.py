"""Anchors fitted to a dataset's boxes.

YOLO: k-means with distance 1 - IoU on box shapes (both boxes centred; YOLOv2), in
model-input pixels after letterboxing, sorted by area and split across strides.
SSD: the standard multi-scale generator (``edge.core.anchors``) with min/max scale and
aspect ratios optionally taken from the box distribution.
Both report the mean best IoU of anchors vs boxes, the usual measure of anchor fit.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from edge.core.anchors import SsdAnchorSpec, ssd_anchors
from edge.core.boxes import cxcywh_to_xyxy, iou_matrix
from edge.datasets.types import Dataset


def letterboxed_wh(ds: Dataset, input_size: int) -> np.ndarray:
    """(M, 2) box width, height in model-input pixels once each image is letterboxed."""
    xyxy, size_wh = ds.all_boxes()
    if len(xyxy) == 0:
        raise ValueError(f"dataset split {ds.name!r} has no boxes to fit anchors to")
    scale = input_size / size_wh.max(axis=1)  # letterbox keeps aspect: long side -> input
    return (xyxy[:, 2:] - xyxy[:, :2]) * size_wh * scale[:, None]


def shape_iou(wh: np.ndarray, anchors_wh: np.ndarray) -> np.ndarray:
    """(N, K) IoU of centred boxes by width/height only."""
    inter = (np.minimum(wh[:, None, 0], anchors_wh[None, :, 0])
             * np.minimum(wh[:, None, 1], anchors_wh[None, :, 1]))
    union = wh[:, None].prod(2) + anchors_wh[None].prod(2) - inter
    return inter / np.maximum(union, 1e-12)


def kmeans_anchors(wh: np.ndarray, k: int, seed: int = 0, iters: int = 300) -> np.ndarray:
    """(k, 2) anchors by k-means with 1 - IoU distance, k-means++ seeding; sorted by area."""
    wh = np.asarray(wh, np.float64)
    if len(wh) < k:
        raise ValueError(f"k-means needs at least {k} boxes, got {len(wh)}")
    rng = np.random.default_rng(seed)
    centres = [wh[rng.integers(len(wh))]]
    while len(centres) < k:
        d = 1 - shape_iou(wh, np.array(centres)).max(1)
        p = d**2 / max((d**2).sum(), 1e-12)
        centres.append(wh[rng.choice(len(wh), p=p)] if p.sum() > 0 else wh[rng.integers(len(wh))])
    c = np.array(centres)
    for _ in range(iters):
        assign = shape_iou(wh, c).argmax(1)
        new = np.array([np.median(wh[assign == j], 0) if np.any(assign == j) else c[j] for j in range(k)])
        if np.allclose(new, c):
            break
        c = new
    return c[np.argsort(c.prod(1))].astype(np.float32)


def mean_best_iou(wh: np.ndarray, anchors_wh: np.ndarray) -> float:
    return float(shape_iou(np.asarray(wh, np.float64), np.asarray(anchors_wh, np.float64)).max(1).mean())


def yolo_anchors(ds: Dataset, input_size: int, strides: tuple[int, ...], per_scale: int = 3,
                 seed: int = 0) -> tuple[list[np.ndarray], float]:
    """Per-stride anchors (smallest to the finest stride) and their mean best IoU."""
    wh = letterboxed_wh(ds, input_size)
    k = per_scale * len(strides)
    anchors = kmeans_anchors(wh, k, seed)
    split = [anchors[i * per_scale:(i + 1) * per_scale] for i in range(len(strides))]
    return split, mean_best_iou(wh, anchors)


def fit_ssd_spec(ds: Dataset, input_size: int, spec: SsdAnchorSpec) -> SsdAnchorSpec:
    """Scales from the 5th/95th percentile of box size, aspect ratios from w/h quantiles."""
    wh = letterboxed_wh(ds, input_size) / input_size
    size = np.sqrt(wh.prod(1))
    lo, hi = np.percentile(size, [5, 95])
    min_scale = float(np.clip(lo, 0.05, 0.6))
    max_scale = float(np.clip(hi, min_scale + 0.1, 0.95))
    ar = wh[:, 0] / np.maximum(wh[:, 1], 1e-6)
    q = np.exp(np.percentile(np.log(ar), [10, 50, 90]))
    ratios = tuple(sorted({1.0, *(round(float(r), 3) for r in q)}))
    return replace(spec, min_scale=min_scale, max_scale=max_scale, aspect_ratios=ratios)


def ssd_best_ious(ds: Dataset, input_size: int, spec: SsdAnchorSpec) -> np.ndarray:
    """(M,) best IoU of each box (letterboxed into the input) with any placed anchor."""
    xyxy, size_wh = ds.all_boxes()
    scale = input_size / size_wh.max(axis=1)
    pad = (input_size - size_wh * scale[:, None]) / 2 / input_size
    ratio = size_wh * scale[:, None] / input_size
    boxes = xyxy * np.tile(ratio, 2) + np.tile(pad, 2)
    anchors = cxcywh_to_xyxy(ssd_anchors(spec))
    return np.concatenate([iou_matrix(boxes[i:i + 2048], anchors).max(1) for i in range(0, len(boxes), 2048)])


def ssd_mean_best_iou(ds: Dataset, input_size: int, spec: SsdAnchorSpec) -> float:
    """Mean over boxes (letterboxed into the input) of the best IoU with any placed anchor."""
    return float(ssd_best_ious(ds, input_size, spec).mean())


def ssd_matched_fraction(ds: Dataset, input_size: int, spec: SsdAnchorSpec, pos_iou: float = 0.5) -> float:
    """Fraction of boxes with at least one anchor at IoU >= ``pos_iou``: the rest only get
    their (poorly overlapping) best anchor forced, and learn slowly if at all."""
    return float((ssd_best_ious(ds, input_size, spec) >= pos_iou).mean())

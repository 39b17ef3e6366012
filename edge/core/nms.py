"""Non-maximum suppression, vectorized.

Greedy NMS as in TF/torchvision: boxes sorted by descending score (stable, so ties keep
input order), each kept box suppresses later boxes with IoU > ``iou_threshold``. The IoU
of the current box against all remaining candidates is one numpy expression; the loop
runs once per *kept* box, not per candidate. Class-aware NMS offsets each class's boxes
to a disjoint region (the torchvision ``batched_nms`` trick) so one pass handles all
classes.
"""

from __future__ import annotations

import numpy as np

from edge.core.boxes import Detections, as_boxes


def nms_indices(
    xyxy: np.ndarray,
    scores: np.ndarray,
    iou_threshold: float = 0.5,
    class_ids: np.ndarray | None = None,
    max_detections: int | None = None,
) -> np.ndarray:
    """Indices (into the inputs) of the boxes kept, by descending score.

    xyxy: (N, 4) float32 in any consistent units; scores: (N,); class_ids: (N,) or None
    for class-agnostic suppression.
    """
    boxes = as_boxes(xyxy)
    scores = np.asarray(scores, np.float32).reshape(-1)
    if len(scores) != len(boxes):
        raise ValueError(f"nms: {len(boxes)} boxes but {len(scores)} scores")
    if not 0.0 <= iou_threshold <= 1.0:
        raise ValueError(f"nms: iou_threshold must be in [0, 1], got {iou_threshold}")
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    if class_ids is not None:
        class_ids = np.asarray(class_ids).reshape(-1)
        span = float(boxes.max() - boxes.min()) + 1.0
        boxes = boxes + (class_ids.astype(np.float32) * span)[:, None]
    order = np.argsort(-scores, kind="stable")
    b = boxes[order]
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    area = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    limit = len(order) if max_detections is None else max(0, int(max_detections))
    remaining = np.arange(len(order))  # positions in sorted order, shrinks as boxes go
    keep: list[int] = []
    while remaining.size and len(keep) < limit:
        i, rest = remaining[0], remaining[1:]
        keep.append(int(i))
        w = np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest])
        h = np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest])
        inter = np.clip(w, 0, None) * np.clip(h, 0, None)
        union = area[i] + area[rest] - inter
        iou = np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
        remaining = rest[iou <= iou_threshold]
    return order[np.asarray(keep, np.int64)]


def nms(
    dets: Detections,
    iou_threshold: float = 0.5,
    class_aware: bool = True,
    max_detections: int | None = None,
) -> Detections:
    """NMS over a ``Detections``; result sorted by descending score."""
    keep = nms_indices(
        dets.xyxy, dets.scores, iou_threshold,
        dets.class_ids if class_aware else None, max_detections,
    )
    return dets[keep]

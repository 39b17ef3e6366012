"""What every decoder returns and promises."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from edge.core.boxes import Detections


class Decoder(Protocol):
    """Turns one invoke's float outputs into detections in the model input frame.

    name: short id shown to users ("postprocess", "ssd", "yolov5", ...).
    needs_nms: False when the model already suppressed (fused post-process, end-to-end).
    num_classes: classes the model can emit (for label-file validation), or None.
    """

    name: str
    needs_nms: bool
    num_classes: int | None

    def __call__(self, outputs: list[np.ndarray], score_threshold: float) -> Detections: ...


def top_class(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, C) class scores -> (best class id (N,), its score (N,))."""
    if scores.shape[1] == 1:
        return np.zeros(len(scores), np.int32), scores[:, 0]
    ids = scores.argmax(axis=1)
    return ids.astype(np.int32), np.take_along_axis(scores, ids[:, None], axis=1)[:, 0]

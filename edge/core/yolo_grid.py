"""YOLO grid geometry shared by training (targets, loss) and the device (decoding).

Our tiny-YOLO heads end in a sigmoid, so every output value lies in [0, 1] and
quantizes well to int8. One output per stride, shaped [1, H, W, A * (5 + C)], channels
anchor-major: for anchor a, ``[x, y, w, h, obj, cls_0 .. cls_{C-1}]``. Boxes decode with
the bounded YOLOv5 formula (no exp, so no overflow after quantization)::

    cx = (2 * x - 0.5 + col) * stride        w = (2 * w) ** 2 * anchor_w
    cy = (2 * y - 0.5 + row) * stride        h = (2 * h) ** 2 * anchor_h

in input pixels; score = obj * cls.
"""

from __future__ import annotations

import numpy as np

from edge.core.boxes import cxcywh_to_xyxy


def decode_grid(
    output: np.ndarray,
    stride: int,
    anchors_wh: np.ndarray,
    num_classes: int,
    input_wh: tuple[int, int],
    apply_sigmoid: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode one stride's output.

    output: [1, H, W, A*(5+C)] (or [H, W, A*(5+C)]) float.
    anchors_wh: (A, 2) anchor sizes in input pixels.
    Returns (xyxy (H*W*A, 4) normalized to the input, scores (H*W*A, C) = obj * cls).
    """
    out = np.asarray(output, np.float32)
    if out.ndim == 4:
        out = out[0]
    anchors = np.asarray(anchors_wh, np.float32).reshape(-1, 2)
    gh, gw, ch = out.shape
    na = len(anchors)
    if ch != na * (5 + num_classes):
        raise ValueError(
            f"YOLO grid output has {ch} channels; expected {na} anchors x (5 + {num_classes} "
            f"classes) = {na * (5 + num_classes)}")
    p = out.reshape(gh, gw, na, 5 + num_classes)
    if apply_sigmoid:
        p = 1.0 / (1.0 + np.exp(-p))
    rows, cols = np.meshgrid(np.arange(gh, dtype=np.float32), np.arange(gw, dtype=np.float32),
                             indexing="ij")
    cx = (2.0 * p[..., 0] - 0.5 + cols[..., None]) * stride
    cy = (2.0 * p[..., 1] - 0.5 + rows[..., None]) * stride
    w = (2.0 * p[..., 2]) ** 2 * anchors[:, 0]
    h = (2.0 * p[..., 3]) ** 2 * anchors[:, 1]
    iw, ih = input_wh
    cxcywh = np.stack([cx / iw, cy / ih, w / iw, h / ih], axis=-1).reshape(-1, 4)
    scores = (p[..., 4:5] * p[..., 5:]).reshape(-1, num_classes)
    return cxcywh_to_xyxy(cxcywh), scores

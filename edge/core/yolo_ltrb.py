"""Anchor-free YOLO geometry (our ``yolo-nano``), shared by training (assigner, loss) and the
device (decoding).

One output ``[1, N, 4 + C]``, every value a sigmoid in [0, 1] so one int8 scale (1/255)
fits coordinates and scores alike. Rows are the anchor points of every stride, finest
first, row-major within a stride; a point sits at the centre of its cell,
``((col + 0.5) * stride, (row + 0.5) * stride)`` in input pixels. Columns are the distances
from the point to the box's left, top, right and bottom edges as fractions of
``ltrb_range * stride``, then C class scores::

    x0 = px - l * R * stride    x1 = px + r * R * stride    (R = ltrb_range)
    y0 = py - t * R * stride    y1 = py + b * R * stride

Bounded distances (no exp) cannot overflow after quantization; an int8 step is
``R * stride / 255`` pixels (0.5 px at stride 8 with R = 16).
"""

from __future__ import annotations

import numpy as np


def anchor_points(input_wh: tuple[int, int], strides: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Anchor points in output-row order: (N, 2) float32 centres (x, y) in input pixels, and
    (N,) float32 the stride of each."""
    w, h = input_wh
    pts, st = [], []
    for s in strides:
        gw, gh = w // s, h // s
        ys, xs = np.meshgrid(np.arange(gh, dtype=np.float32), np.arange(gw, dtype=np.float32), indexing="ij")
        pts.append(np.stack([(xs.ravel() + 0.5) * s, (ys.ravel() + 0.5) * s], 1))
        st.append(np.full(gw * gh, s, np.float32))
    return np.concatenate(pts), np.concatenate(st)


def decode_ltrb(output: np.ndarray, strides: list[int], ltrb_range: float, num_classes: int,
                input_wh: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """[1, N, 4+C] (or [N, 4+C]) float -> (xyxy (N, 4) normalized to the input, scores (N, C))."""
    out = np.asarray(output, np.float32)
    if out.ndim == 3:
        out = out[0]
    pts, st = anchor_points(input_wh, strides)
    if out.shape != (len(pts), 4 + num_classes):
        raise ValueError(f"anchor-free YOLO output has shape {out.shape}; expected ({len(pts)}, "
                         f"{4 + num_classes}) = points of strides {strides} at input {input_wh} "
                         f"x (4 + {num_classes} classes)")
    d = out[:, :4] * (ltrb_range * st)[:, None]
    w, h = input_wh
    xyxy = np.stack([(pts[:, 0] - d[:, 0]) / w, (pts[:, 1] - d[:, 1]) / h,
                     (pts[:, 0] + d[:, 2]) / w, (pts[:, 1] + d[:, 3]) / h], 1)
    return xyxy, out[:, 4:]

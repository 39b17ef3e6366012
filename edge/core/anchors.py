"""SSD anchors (the standard multi-scale grid generator) and the Faster R-CNN box coder.

Matches the TF Object Detection API (``multiple_grid_anchor_generator.create_ssd_anchors``
and ``faster_rcnn_box_coder``) and therefore ``TFLite_Detection_PostProcess``: anchors are
ordered (layer, y, x, box spec); encodings are ``[ty, tx, th, tw]`` divided by the coder
scales ``(y, x, h, w)``, default ``(10, 10, 5, 5)``. Inside the package anchors are
``cxcywh`` normalized to the model input; ``anchors_to_yxhw`` gives the op's layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import sqrt

import numpy as np

from edge.core.boxes import as_boxes, cxcywh_to_xyxy, xyxy_to_cxcywh

DEFAULT_ASPECT_RATIOS = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)
DEFAULT_BOX_SCALES_YXHW = (10.0, 10.0, 5.0, 5.0)


@dataclass(frozen=True)
class SsdAnchorSpec:
    """Parameters of the multi-scale generator; JSON-able, stored in model metadata.

    feature_map_sizes_hw: grid size of each prediction layer, coarsest last.
    min_scale/max_scale: anchor size (fraction of the input) at the first/last layer.
    reduce_boxes_in_lowest_layer: first layer gets 3 boxes (0.1@1, s@2, s@0.5), as in
        the TF OD API configs for MobileNet SSDs.
    interpolated_scale_aspect_ratio: extra box of scale sqrt(s_i * s_{i+1}) (0 = none).
    """

    feature_map_sizes_hw: tuple[tuple[int, int], ...]
    min_scale: float = 0.2
    max_scale: float = 0.95
    aspect_ratios: tuple[float, ...] = DEFAULT_ASPECT_RATIOS
    interpolated_scale_aspect_ratio: float = 1.0
    reduce_boxes_in_lowest_layer: bool = True

    def boxes_per_location(self) -> list[int]:
        n = len(self.aspect_ratios) + (1 if self.interpolated_scale_aspect_ratio > 0 else 0)
        return [3 if (i == 0 and self.reduce_boxes_in_lowest_layer) else n
                for i in range(len(self.feature_map_sizes_hw))]

    def to_dict(self) -> dict:
        return {
            "feature_map_sizes_hw": [list(s) for s in self.feature_map_sizes_hw],
            "min_scale": self.min_scale,
            "max_scale": self.max_scale,
            "aspect_ratios": list(self.aspect_ratios),
            "interpolated_scale_aspect_ratio": self.interpolated_scale_aspect_ratio,
            "reduce_boxes_in_lowest_layer": self.reduce_boxes_in_lowest_layer,
        }

    @classmethod
    def from_dict(cls, d: dict) -> SsdAnchorSpec:
        d = dict(d)
        d["feature_map_sizes_hw"] = tuple(tuple(int(v) for v in s) for s in d["feature_map_sizes_hw"])
        d["aspect_ratios"] = tuple(float(a) for a in d.get("aspect_ratios", DEFAULT_ASPECT_RATIOS))
        return cls(**d)


def _layer_specs(spec: SsdAnchorSpec) -> list[list[tuple[float, float]]]:
    n = len(spec.feature_map_sizes_hw)
    if n == 1:
        scales = [spec.min_scale]
    else:
        scales = [spec.min_scale + (spec.max_scale - spec.min_scale) * i / (n - 1) for i in range(n)]
    scales.append(1.0)
    layers = []
    for i in range(n):
        if i == 0 and spec.reduce_boxes_in_lowest_layer:
            layers.append([(0.1, 1.0), (scales[0], 2.0), (scales[0], 0.5)])
            continue
        boxes = [(scales[i], ar) for ar in spec.aspect_ratios]
        if spec.interpolated_scale_aspect_ratio > 0:
            boxes.append((sqrt(scales[i] * scales[i + 1]), spec.interpolated_scale_aspect_ratio))
        layers.append(boxes)
    return layers


def ssd_anchors(spec: SsdAnchorSpec) -> np.ndarray:
    """(A, 4) float32 anchors, ``cxcywh`` normalized to a square model input."""
    out = []
    for (fh, fw), boxes in zip(spec.feature_map_sizes_hw, _layer_specs(spec)):
        cy = (np.arange(fh, dtype=np.float64) + 0.5) / fh
        cx = (np.arange(fw, dtype=np.float64) + 0.5) / fw
        hw = np.array([[s / sqrt(ar), s * sqrt(ar)] for s, ar in boxes])  # (B, 2) h, w
        yy, xx = np.meshgrid(cy, cx, indexing="ij")  # (fh, fw)
        grid = np.zeros((fh, fw, len(boxes), 4))
        grid[..., 0] = xx[..., None]
        grid[..., 1] = yy[..., None]
        grid[..., 2] = hw[:, 1]
        grid[..., 3] = hw[:, 0]
        out.append(grid.reshape(-1, 4))
    return np.concatenate(out).astype(np.float32)


def anchors_to_yxhw(anchors_cxcywh: np.ndarray) -> np.ndarray:
    """cxcywh -> the (ycenter, xcenter, h, w) layout TFLite_Detection_PostProcess reads."""
    return as_boxes(anchors_cxcywh)[:, [1, 0, 3, 2]]


def anchors_from_yxhw(anchors_yxhw: np.ndarray) -> np.ndarray:
    """(ycenter, xcenter, h, w) -> cxcywh."""
    return as_boxes(anchors_yxhw)[:, [1, 0, 3, 2]]


@dataclass(frozen=True)
class BoxCoder:
    """Faster R-CNN box coder; encodings are ``[ty, tx, th, tw]`` per anchor."""

    scales_yxhw: tuple[float, float, float, float] = DEFAULT_BOX_SCALES_YXHW

    def decode(self, encodings: np.ndarray, anchors_cxcywh: np.ndarray) -> np.ndarray:
        """(A, 4) encodings + (A, 4) anchors -> (A, 4) xyxy normalized to the input."""
        e = np.asarray(encodings, np.float32).reshape(-1, 4)
        a = as_boxes(anchors_cxcywh, "anchors")
        if len(e) != len(a):
            raise ValueError(f"box decoder: {len(e)} encodings but {len(a)} anchors")
        sy, sx, sh, sw = self.scales_yxhw
        cx = e[:, 1] / sx * a[:, 2] + a[:, 0]
        cy = e[:, 0] / sy * a[:, 3] + a[:, 1]
        w = np.exp(e[:, 3] / sw) * a[:, 2]
        h = np.exp(e[:, 2] / sh) * a[:, 3]
        return cxcywh_to_xyxy(np.stack([cx, cy, w, h], axis=1))

    def encode(self, xyxy: np.ndarray, anchors_cxcywh: np.ndarray) -> np.ndarray:
        """(A, 4) xyxy targets (one per anchor) -> (A, 4) ``[ty, tx, th, tw]``."""
        b = xyxy_to_cxcywh(xyxy)
        a = as_boxes(anchors_cxcywh, "anchors")
        sy, sx, sh, sw = self.scales_yxhw
        eps = 1e-8
        bw, bh = np.maximum(b[:, 2], eps), np.maximum(b[:, 3], eps)
        ty = (b[:, 1] - a[:, 1]) / a[:, 3] * sy
        tx = (b[:, 0] - a[:, 0]) / a[:, 2] * sx
        th = np.log(bh / a[:, 3]) * sh
        tw = np.log(bw / a[:, 2]) * sw
        return np.stack([ty, tx, th, tw], axis=1).astype(np.float32)

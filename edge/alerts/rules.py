"""Which detections a rule cares about: label, score and zone (no state; see engine.py).

Zones are polygons in coordinates normalized to the camera frame. A box is in the zone when
its anchor point is: by default the bottom centre (where a person or animal touches the
ground), so a head poking into a doorway zone from the pavement does not count.
"""

from __future__ import annotations

import numpy as np

from edge.alerts.config import RuleConfig
from edge.core.boxes import Detections


def anchor_points(xyxy: np.ndarray, anchor: str) -> np.ndarray:
    """(N, 4) normalized xyxy -> (N, 2) anchor points (x, y)."""
    cx = (xyxy[:, 0] + xyxy[:, 2]) * 0.5
    if anchor == "bottom_center":
        return np.stack([cx, xyxy[:, 3]], axis=1)
    if anchor == "center":
        return np.stack([cx, (xyxy[:, 1] + xyxy[:, 3]) * 0.5], axis=1)
    raise ValueError(f"zone_anchor must be bottom_center or center, got {anchor!r}")


def points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """(N, 2) points, (K, 2) polygon -> (N,) bool. Even-odd ray casting; a point exactly on
    the bottom edge of a zone that reaches y=1 (the frame edge) counts as inside."""
    px, py = points[:, 0:1], points[:, 1:2]
    x1, y1 = polygon[:, 0][None, :], polygon[:, 1][None, :]
    x2, y2 = np.roll(polygon[:, 0], -1)[None, :], np.roll(polygon[:, 1], -1)[None, :]
    straddles = (y1 > py) != (y2 > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
    inside = np.count_nonzero(straddles & (px < x_cross), axis=1) % 2 == 1
    # boxes touching the frame bottom (y2 == 1) sit on the edge of a zone drawn to the bottom
    on_edge = _on_boundary(points, polygon)
    return inside | on_edge


def _on_boundary(points: np.ndarray, polygon: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    a = polygon[None, :, :]
    b = np.roll(polygon, -1, axis=0)[None, :, :]
    p = points[:, None, :]
    ab = b - a
    t = np.clip(((p - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0, 1)
    closest = a + t[..., None] * ab
    return (np.linalg.norm(p - closest, axis=-1) <= eps).any(axis=1)


class RuleFilter:
    """Selects the detections of one frame that a rule is about."""

    def __init__(self, rule: RuleConfig) -> None:
        self.rule = rule
        self.labels = frozenset(rule.labels)
        self.zone = None if rule.zone is None else np.asarray(rule.zone, np.float64)

    def mask(self, dets: Detections) -> np.ndarray:
        """(N,) bool over ``dets`` (boxes normalized to the camera frame)."""
        if len(dets) == 0:
            return np.zeros(0, bool)
        keep = np.array([name in self.labels for name in dets.label_names], bool)
        keep &= dets.scores >= self.rule.min_score
        if self.zone is not None and keep.any():
            pts = anchor_points(dets.xyxy.astype(np.float64), self.rule.zone_anchor)
            keep &= points_in_polygon(pts, self.zone)
        return keep

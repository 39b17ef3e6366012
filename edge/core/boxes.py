"""Box formats, IoU and the columnar ``Detections`` value type.

Conventions (GUIDE §3): inside the package every box is ``xyxy`` — (x_min, y_min,
x_max, y_max) — float32 of shape (N, 4), normalized to [0, 1] in a frame the caller
names. Other layouts exist only at boundaries and carry their order in their name:
``cxcywh`` (centre x, centre y, width, height), ``yxyx`` (TF/TFLite order).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Model outputs are not clipped and int8 rounding pushes edges slightly outside [0, 1];
# anything beyond this slack means the caller mixed up pixels and normalized units.
_RANGE_SLACK = 0.5


def as_boxes(a: np.ndarray | list, name: str = "boxes") -> np.ndarray:
    """Return ``a`` as a float32 (N, 4) array, raising ValueError on any other shape."""
    arr = np.asarray(a, dtype=np.float32)
    if arr.size == 0:
        return np.zeros((0, 4), np.float32)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4), got {arr.shape}")
    return arr


def cxcywh_to_xyxy(cxcywh: np.ndarray) -> np.ndarray:
    """(N, 4) centre/size boxes -> (N, 4) corner boxes, same units."""
    b = as_boxes(cxcywh, "cxcywh")
    half = b[:, 2:] * 0.5
    return np.concatenate([b[:, :2] - half, b[:, :2] + half], axis=1)


def xyxy_to_cxcywh(xyxy: np.ndarray) -> np.ndarray:
    """(N, 4) corner boxes -> (N, 4) centre/size boxes, same units."""
    b = as_boxes(xyxy, "xyxy")
    size = b[:, 2:] - b[:, :2]
    return np.concatenate([b[:, :2] + size * 0.5, size], axis=1)


def yxyx_to_xyxy(yxyx: np.ndarray) -> np.ndarray:
    """TF order (ymin, xmin, ymax, xmax) -> xyxy."""
    b = as_boxes(yxyx, "yxyx")
    return b[:, [1, 0, 3, 2]]


def xyxy_to_yxyx(xyxy: np.ndarray) -> np.ndarray:
    """xyxy -> TF order (ymin, xmin, ymax, xmax)."""
    return yxyx_to_xyxy(xyxy)  # the permutation is its own inverse


def xywh_px_to_xyxy(xywh_px: np.ndarray) -> np.ndarray:
    """COCO/pixel top-left+size boxes -> xyxy, same (pixel) units."""
    b = as_boxes(xywh_px, "xywh_px")
    return np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)


def xyxy_to_xywh_px(xyxy_px: np.ndarray) -> np.ndarray:
    """xyxy -> COCO top-left+size, same (pixel) units."""
    b = as_boxes(xyxy_px, "xyxy_px")
    return np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1)


def scale_boxes(xyxy: np.ndarray, size_wh: tuple[float, float]) -> np.ndarray:
    """Normalized xyxy -> pixel xyxy for an image of ``size_wh`` (width, height)."""
    w, h = size_wh
    return as_boxes(xyxy) * np.array([w, h, w, h], np.float32)


def normalize_boxes(xyxy_px: np.ndarray, size_wh: tuple[float, float]) -> np.ndarray:
    """Pixel xyxy -> normalized xyxy for an image of ``size_wh`` (width, height)."""
    w, h = size_wh
    return as_boxes(xyxy_px) / np.array([w, h, w, h], np.float32)


def box_area(xyxy: np.ndarray) -> np.ndarray:
    """(N,) areas; inverted boxes count as 0."""
    b = as_boxes(xyxy)
    return np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)


def iou_matrix(a_xyxy: np.ndarray, b_xyxy: np.ndarray) -> np.ndarray:
    """(N, M) IoU between every box of ``a`` and every box of ``b`` (any common units)."""
    a = as_boxes(a_xyxy, "a_xyxy")
    b = as_boxes(b_xyxy, "b_xyxy")
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0).astype(np.float32)


@dataclass(frozen=True)
class Detections:
    """Detections of one image, columnar.

    xyxy: (N, 4) float32, normalized to the frame named by whoever built it (the model
        input frame straight out of a decoder; the camera frame after ``to_frame``).
    scores: (N,) float32 in [0, 1].
    class_ids: (N,) int32, 0-based ids into ``labels``.
    labels: optional label list shared by all rows (index = class id).
    """

    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    labels: tuple[str, ...] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        xyxy = as_boxes(self.xyxy, "Detections.xyxy")
        scores = np.asarray(self.scores, np.float32).reshape(-1)
        class_ids = np.asarray(self.class_ids).reshape(-1)
        if (not np.issubdtype(class_ids.dtype, np.integer) and class_ids.size
                and not np.all(np.mod(class_ids, 1) == 0)):
            raise ValueError("Detections.class_ids must be whole numbers")
        class_ids = class_ids.astype(np.int32)
        n = len(xyxy)
        if len(scores) != n or len(class_ids) != n:
            raise ValueError(
                f"Detections columns differ in length: xyxy {n}, scores {len(scores)}, "
                f"class_ids {len(class_ids)}"
            )
        if n and (xyxy.min() < -_RANGE_SLACK or xyxy.max() > 1 + _RANGE_SLACK):
            raise ValueError(
                "Detections.xyxy must be normalized to [0, 1]; got values in "
                f"[{xyxy.min():.3g}, {xyxy.max():.3g}] (pixel boxes? use normalize_boxes)"
            )
        labels = tuple(self.labels) if self.labels is not None else None
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "class_ids", class_ids)
        object.__setattr__(self, "labels", labels)

    @classmethod
    def empty(cls, labels: tuple[str, ...] | list[str] | None = None) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32), labels)

    def __len__(self) -> int:
        return len(self.scores)

    def __getitem__(self, index: np.ndarray | slice | int) -> Detections:
        """Rows selected by a boolean mask, index array or slice (an int keeps one row)."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        return Detections(self.xyxy[index], self.scores[index], self.class_ids[index], self.labels)

    def label_of(self, class_id: int) -> str:
        """Label text for ``class_id``; ``str(class_id)`` when there is no label for it."""
        if self.labels is not None and 0 <= class_id < len(self.labels):
            return self.labels[class_id]
        return str(class_id)

    @property
    def label_names(self) -> list[str]:
        return [self.label_of(int(c)) for c in self.class_ids]

    def sorted(self) -> Detections:
        """Rows by descending score (stable, so ties keep decoder order)."""
        return self[np.argsort(-self.scores, kind="stable")]

    def with_boxes(self, xyxy: np.ndarray) -> Detections:
        return Detections(xyxy, self.scores, self.class_ids, self.labels)

    def clipped(self) -> Detections:
        return self.with_boxes(np.clip(self.xyxy, 0.0, 1.0))

    def xyxy_px(self, size_wh: tuple[float, float]) -> np.ndarray:
        """Boxes in pixels of an image of ``size_wh`` (the frame these are normalized to)."""
        return scale_boxes(self.xyxy, size_wh)

    def to_records(self, size_wh: tuple[int, int]) -> list[dict]:
        """JSON-ready rows: label, class id, score, normalized and pixel xyxy."""
        px = self.xyxy_px(size_wh)
        return [
            {
                "label": self.label_of(int(c)),
                "class_id": int(c),
                "score": round(float(s), 4),
                "box": [round(float(v), 5) for v in b],
                "box_px": [round(float(v), 1) for v in p],
            }
            for b, p, s, c in zip(self.xyxy, px, self.scores, self.class_ids)
        ]

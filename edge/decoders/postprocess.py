"""Outputs of a fused ``TFLite_Detection_PostProcess``: boxes, classes, scores, count.

TF1 and TF2 exports list these four outputs in different orders, so they are identified
by shape and values, never by position: count has one element, boxes are [1, K, 4], and
of the two [1, K] tensors the class ids are whole numbers while scores are fractions in
[0, 1]. When the graph is available the op's own output order (fixed by the kernel:
boxes, classes, scores, count) settles it outright.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from edge.core.boxes import Detections, yxyx_to_xyxy

log = logging.getLogger(__name__)

ROLES = ("boxes", "classes", "scores", "count")


def roles_from_graph(op_outputs: tuple[int, ...], model_outputs: list[int]) -> dict[str, int] | None:
    """Map roles to positions in the model's output list using the op's output tensors."""
    if len(op_outputs) != 4:
        return None
    pos = {t: i for i, t in enumerate(model_outputs)}
    if not all(t in pos for t in op_outputs):
        return None
    return {role: pos[t] for role, t in zip(ROLES, op_outputs)}


def roles_from_shapes(shapes: list[tuple[int, ...]]) -> tuple[dict[str, int], tuple[int, int] | None]:
    """Roles known from shapes alone, plus the two [1, K] positions still to tell apart."""
    if len(shapes) != 4:
        raise ValueError(f"a fused post-process model has 4 outputs, this one has {len(shapes)}")
    roles: dict[str, int] = {}
    pair = []
    for i, s in enumerate(shapes):
        size = int(np.prod(s))
        if len(s) >= 2 and s[-1] == 4 and len(s) == 3:
            roles["boxes"] = i
        elif size == 1:
            roles["count"] = i
        else:
            pair.append(i)
    if set(roles) != {"boxes", "count"} or len(pair) != 2:
        raise ValueError(f"output shapes {shapes} are not boxes [1,K,4], classes [1,K], "
                         "scores [1,K], count [1]")
    return roles, (pair[0], pair[1])


def _is_class_column(v: np.ndarray) -> bool:
    return bool(np.all(v == np.round(v)))


def _is_score_column(v: np.ndarray) -> bool:
    return bool(np.all((v >= 0) & (v <= 1)) and not np.all(v == np.round(v)))


@dataclass
class PostprocessDecoder:
    shapes: list[tuple[int, ...]]
    graph_roles: dict[str, int] | None = None
    class_offset: int = 0
    name: str = "postprocess"
    needs_nms: bool = False
    num_classes: int | None = None
    _roles: dict[str, int] | None = field(default=None, init=False)
    _pair: tuple[int, int] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        roles, pair = roles_from_shapes(self.shapes)
        if self.graph_roles is not None:
            self._roles = dict(self.graph_roles)
        else:
            self._roles, self._pair = None, pair
            self._partial = roles

    @property
    def roles(self) -> dict[str, int] | None:
        return self._roles

    def _resolve(self, outputs: list[np.ndarray]) -> dict[str, int] | None:
        n = int(np.asarray(outputs[self._partial["count"]]).reshape(-1)[0])
        if n <= 0:
            return None
        a, b = (np.asarray(outputs[i]).reshape(-1)[:n] for i in self._pair)
        if _is_class_column(a) and _is_score_column(b):
            cls, sc = self._pair
        elif _is_class_column(b) and _is_score_column(a):
            sc, cls = self._pair
        else:
            return None  # e.g. every score exactly 0 or 1: wait for a telling frame
        roles = dict(self._partial, classes=cls, scores=sc)
        log.info("post-process outputs identified by value: %s", roles)
        return roles

    def __call__(self, outputs: list[np.ndarray], score_threshold: float) -> Detections:
        roles = self._roles or self._resolve(outputs)
        if roles is None:
            # Undecidable frames carry only whole-number scores; counting on position here
            # would silently swap labels and scores, so report nothing instead.
            return Detections.empty()
        self._roles = roles
        n = int(np.asarray(outputs[roles["count"]]).reshape(-1)[0])
        boxes = np.asarray(outputs[roles["boxes"]], np.float32).reshape(-1, 4)[:n]
        scores = np.asarray(outputs[roles["scores"]], np.float32).reshape(-1)[:n]
        classes = np.round(np.asarray(outputs[roles["classes"]]).reshape(-1)[:n]).astype(np.int32)
        keep = scores >= score_threshold
        return Detections(yxyx_to_xyxy(boxes[keep]), scores[keep], classes[keep] + self.class_offset)

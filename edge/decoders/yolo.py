"""YOLO output layouts -> detections (pre-NMS), normalized to the model input.

- yolov5 ``[1, N, 5+C]``: rows cx, cy, w, h, objectness, C class probabilities; score =
  obj x cls (Ultralytics ``detect.py``, single label per box).
- yolov8 ``[1, 4+C, N]``: columns cx, cy, w, h, C class probabilities, no objectness.
- end2end ``[1, K, 6]``: x1, y1, x2, y2, score, class (NMS already inside the model).
- grid: our tiny-YOLO, one sigmoid output per stride (``edge.core.yolo_grid``).
- ltrb: our anchor-free nano YOLO, one sigmoid output [1, N, 4+C] (``edge.core.yolo_ltrb``).
Boxes come out of TFLite exports normalized to the input; some exports give pixels. That
is read from the metadata, else from the value range, once per model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge.core.boxes import Detections, cxcywh_to_xyxy
from edge.core.metadata import YoloDecoderSpec
from edge.core.yolo_grid import decode_grid
from edge.core.yolo_ltrb import decode_ltrb
from edge.decoders.base import top_class


class _Units:
    """Boxes normalized or in input pixels: from the metadata, else decided once from the
    value range of the first frame that has boxes."""

    input_wh: tuple[int, int]
    boxes_normalized: bool | None

    def _normalized(self, xyxy: np.ndarray) -> np.ndarray:
        if self.boxes_normalized is None and len(xyxy):
            self.boxes_normalized = not bool(np.abs(xyxy).max() > 2.0)
        if self.boxes_normalized is False:
            w, h = self.input_wh
            return xyxy / np.array([w, h, w, h], np.float32)
        return xyxy


@dataclass
class YoloV5Decoder(_Units):
    input_wh: tuple[int, int]
    num_classes: int
    boxes_normalized: bool | None = None
    name: str = "yolov5"
    needs_nms: bool = True

    def __call__(self, outputs: list[np.ndarray], score_threshold: float) -> Detections:
        rows = np.asarray(outputs[0], np.float32).reshape(-1, 5 + self.num_classes)
        rows = rows[rows[:, 4] >= score_threshold]  # obj bounds obj*cls: cheap first cut
        class_ids, cls = top_class(rows[:, 5:])
        scores = rows[:, 4] * cls
        keep = scores >= score_threshold
        rows, scores, class_ids = rows[keep], scores[keep], class_ids[keep]
        xyxy = self._normalized(cxcywh_to_xyxy(rows[:, :4]))
        return Detections(np.clip(xyxy, -0.25, 1.25), scores, class_ids)


@dataclass
class YoloV8Decoder(_Units):
    input_wh: tuple[int, int]
    num_classes: int
    boxes_normalized: bool | None = None
    name: str = "yolov8"
    needs_nms: bool = True

    def __call__(self, outputs: list[np.ndarray], score_threshold: float) -> Detections:
        cols = np.asarray(outputs[0], np.float32).reshape(4 + self.num_classes, -1)
        class_ids, scores = top_class(cols[4:].T)
        keep = np.flatnonzero(scores >= score_threshold)
        xyxy = self._normalized(cxcywh_to_xyxy(cols[:4, keep].T))
        return Detections(np.clip(xyxy, -0.25, 1.25), scores[keep], class_ids[keep])


@dataclass
class EndToEndDecoder(_Units):
    input_wh: tuple[int, int]
    boxes_normalized: bool | None = None
    name: str = "end2end"
    needs_nms: bool = False
    num_classes: int | None = None

    def __call__(self, outputs: list[np.ndarray], score_threshold: float) -> Detections:
        rows = np.asarray(outputs[0], np.float32).reshape(-1, 6)
        rows = rows[rows[:, 4] >= score_threshold]
        xyxy = self._normalized(rows[:, :4])
        return Detections(np.clip(xyxy, -0.25, 1.25), rows[:, 4], np.round(rows[:, 5]).astype(np.int32))


def decode_yolo_grid(
    outputs: list[np.ndarray],
    spec: YoloDecoderSpec,
    num_classes: int,
    input_wh: tuple[int, int],
    score_threshold: float,
) -> Detections:
    """Our tiny-YOLO: outputs ordered by ascending stride (as in ``spec.strides``)."""
    if spec.anchors_wh is None or len(spec.anchors_wh) != len(spec.strides):
        raise ValueError("grid YOLO metadata needs anchors_wh for every stride")
    if len(outputs) != len(spec.strides):
        raise ValueError(f"grid YOLO: {len(outputs)} outputs for {len(spec.strides)} strides")
    boxes, scores = [], []
    for out, stride, anchors in zip(outputs, spec.strides, spec.anchors_wh):
        b, s = decode_grid(out, stride, np.asarray(anchors, np.float32), num_classes, input_wh,
                           apply_sigmoid=spec.apply_sigmoid)
        boxes.append(b)
        scores.append(s)
    all_scores = np.concatenate(scores)
    class_ids, best = top_class(all_scores)
    keep = best >= score_threshold
    return Detections(np.clip(np.concatenate(boxes)[keep], -0.25, 1.25), best[keep], class_ids[keep])


@dataclass
class YoloGridDecoder:
    spec: YoloDecoderSpec
    num_classes: int
    input_wh: tuple[int, int]
    order: list[int] = field(default_factory=list)  # model output position per stride
    name: str = "yolo-grid"
    needs_nms: bool = True

    def __call__(self, outputs: list[np.ndarray], score_threshold: float) -> Detections:
        ordered = [outputs[i] for i in self.order] if self.order else outputs
        return decode_yolo_grid(ordered, self.spec, self.num_classes, self.input_wh, score_threshold)


def decode_yolo_ltrb(output: np.ndarray, spec: YoloDecoderSpec, num_classes: int, input_wh: tuple[int, int],
                     score_threshold: float) -> Detections:
    """Our anchor-free nano YOLO: one [1, N, 4+C] output; best class per point."""
    if spec.ltrb_range is None or not spec.strides:
        raise ValueError("ltrb YOLO metadata needs strides and ltrb_range")
    xyxy, scores = decode_ltrb(output, spec.strides, spec.ltrb_range, num_classes, input_wh)
    class_ids, best = top_class(scores)
    keep = best >= score_threshold
    return Detections(np.clip(xyxy[keep], -0.25, 1.25), best[keep], class_ids[keep])


@dataclass
class YoloLtrbDecoder:
    spec: YoloDecoderSpec
    num_classes: int
    input_wh: tuple[int, int]
    name: str = "yolo-ltrb"
    needs_nms: bool = True

    def __call__(self, outputs: list[np.ndarray], score_threshold: float) -> Detections:
        return decode_yolo_ltrb(outputs[0], self.spec, self.num_classes, self.input_wh, score_threshold)

"""Anchor-free nano YOLO (``train.models.yolo_nano``): task-aligned assignment (several
positives per box), CIoU box loss and BCE on IoU-aware soft class targets (YOLOv8's recipe,
without DFL: the bounded ``ltrb`` output keeps int8 and the Edge TPU simple), the ``yolo``
decoder with layout ``ltrb`` (``edge.core.yolo_ltrb``)."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from edge.core.metadata import InputSpec, ModelMetadata, YoloDecoderSpec
from edge.core.yolo_ltrb import anchor_points
from train.assign import task_aligned_assign
from train.contract import DEFAULT_THRESHOLDS
from train.families.base import Built
from train.losses import ciou
from train.models.yolo_nano import LTRB_RANGE, STRIDES, build_yolo_nano

MOSAIC_TILES = 4  # a mosaic image holds up to four images' boxes


def ltrb_boxes_tf(dist: tf.Tensor, input_size: int, strides=STRIDES, ltrb_range: float = LTRB_RANGE
                  ) -> tf.Tensor:
    """dist (B, N, 4) sigmoid l, t, r, b -> xyxy (B, N, 4) normalized to the input.

    Same formula as ``edge.core.yolo_ltrb.decode_ltrb`` (kept equal by a test).
    """
    pts, st = anchor_points((input_size, input_size), list(strides))
    p = tf.constant(pts / input_size, tf.float32)
    reach = tf.constant((ltrb_range * st / input_size)[:, None], tf.float32)
    d = dist * reach
    return tf.concat([p - d[..., :2], p + d[..., 2:]], axis=-1)


class NanoLoss(keras.losses.Loss):
    """y_true (B, M, 5) ground truth [x0, y0, x1, y1, class] (class -1: padding);
    y_pred (B, N, 4+C) the model's ``preds``."""

    def __init__(self, input_size: int, num_classes: int, box_gain: float = 7.5, cls_gain: float = 0.5,
                 topk: int = 10, name: str = "nano") -> None:
        super().__init__(name=name, reduction="sum")
        self.input_size, self.num_classes = input_size, num_classes
        self.box_gain, self.cls_gain, self.topk = box_gain, cls_gain, topk
        pts, _ = anchor_points((input_size, input_size), list(STRIDES))
        self.points = tf.constant(pts / input_size, tf.float32)

    def call(self, y_true, y_pred):
        boxes = ltrb_boxes_tf(y_pred[..., :4], self.input_size)
        scores = y_pred[..., 4:]
        t_box, t_scores, fg = task_aligned_assign(tf.stop_gradient(scores), tf.stop_gradient(boxes),
                                                  self.points, y_true, self.topk)
        t_box, t_scores, fg = (tf.stop_gradient(t) for t in (t_box, t_scores, fg))
        norm = tf.maximum(tf.reduce_sum(t_scores), 1.0)
        p = tf.clip_by_value(scores, 1e-7, 1.0 - 1e-7)
        bce = -(t_scores * tf.math.log(p) + (1.0 - t_scores) * tf.math.log(1.0 - p))
        cls_l = tf.reduce_sum(bce) / norm
        weight = tf.reduce_sum(t_scores, -1) * fg
        box_l = tf.reduce_sum((1.0 - ciou(boxes, t_box)) * weight) / norm
        return self.box_gain * box_l + self.cls_gain * cls_l


@dataclass
class GtEncoder:
    """Targets are the ground truth itself, padded to ``max_boxes`` rows (the assigner needs
    the predictions, so it runs inside the loss)."""

    max_boxes: int

    def encode_batch(self, boxes: list[np.ndarray], classes: list[np.ndarray]) -> tuple[np.ndarray]:
        out = np.full((len(boxes), self.max_boxes, 5), -1.0, np.float32)
        for i, (b, c) in enumerate(zip(boxes, classes)):
            if len(b) > self.max_boxes:  # keep the largest: the smallest are the least learnable
                keep = np.argsort(-(b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))[: self.max_boxes]
                b, c = b[keep], c[keep]
            out[i, : len(b), :4] = b
            out[i, : len(b), 4] = c
        return (out,)


def nano_metadata(labels: list[str], input_size: int, provenance: dict | None = None) -> ModelMetadata:
    return ModelMetadata(
        name="yolo_nano", labels=list(labels), input=InputSpec(size_wh=(input_size, input_size)),
        decoder=YoloDecoderSpec(layout="ltrb", strides=list(STRIDES), apply_sigmoid=False,
                                ltrb_range=LTRB_RANGE, boxes_normalized=True),
        thresholds=DEFAULT_THRESHOLDS, provenance=provenance or {})


@dataclass(frozen=True)
class YoloNanoFamily:
    name: str = "yolo-nano"
    summary: str = "anchor-free YOLO, strides 8/16/32, PAN neck, decoupled heads, task-aligned assigner"

    def setup(self, cfg, train_ds) -> tuple[dict, str]:
        most = max((len(s.xyxy) for s in train_ds.samples), default=1)
        max_boxes = max(1, most) * (MOSAIC_TILES if cfg.augment and cfg.mosaic > 0 else 1)
        note = f"anchor-free, strides {list(STRIDES)}; up to {max_boxes} boxes per image"
        return {"max_boxes": max_boxes}, note

    def build(self, cfg, labels, setup, provenance) -> Built:
        n, size = len(labels), cfg.input_size
        model = build_yolo_nano(size, n, cfg.width, cfg.weights)
        enc = GtEncoder(setup["max_boxes"])
        return Built(model, enc.encode_batch, [NanoLoss(size, n)], nano_metadata(labels, size, provenance),
                     [(setup["max_boxes"], 5)], jit_compile=True)


FAMILY = YoloNanoFamily()

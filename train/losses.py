"""Detection losses (Keras 3, TF backend).

SSD: smooth-L1 on the BoxCoder encodings of positive anchors + sigmoid focal loss over all
non-ignored anchors (background column included), both divided by the number of positives.
YOLO: per stride, CIoU box loss and class BCE on positive cells, objectness BCE everywhere.
Predicted YOLO boxes are decoded with the bounded formula of ``edge.core.yolo_grid`` in TF
(differentiable); a test checks this against ``decode_grid`` value for value.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf


def decode_boxcoder_tf(enc: tf.Tensor, anchors_cxcywh: np.ndarray,
                       scales_yxhw: tuple[float, float, float, float] = (10.0, 10.0, 5.0, 5.0)) -> tf.Tensor:
    """[ty, tx, th, tw] (..., A, 4) -> xyxy, the ``edge.core.anchors.BoxCoder.decode`` formula."""
    a = tf.constant(np.asarray(anchors_cxcywh, np.float32))
    sy, sx, sh, sw = scales_yxhw
    cy = enc[..., 0] / sy * a[:, 3] + a[:, 1]
    cx = enc[..., 1] / sx * a[:, 2] + a[:, 0]
    # clipped before exp: an untrained head must not overflow the IoU term
    h = tf.exp(tf.clip_by_value(enc[..., 2] / sh, -6.0, 4.0)) * a[:, 3]
    w = tf.exp(tf.clip_by_value(enc[..., 3] / sw, -6.0, 4.0)) * a[:, 2]
    return tf.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)


class SsdBoxLoss(keras.losses.Loss):
    """y_true (B, A, 5) = [ty, tx, th, tw, positive]; y_pred (B, A, 4).

    Smooth-L1 on the encodings; with ``anchors_cxcywh``, plus ``iou_gain`` x (1 - CIoU) of the
    decoded boxes: the encodings weigh a box's four sides independently, while IoU is what
    mAP@[.5:.95] scores.
    """

    def __init__(self, delta: float = 1.0, anchors_cxcywh: np.ndarray | None = None, iou_gain: float = 2.0,
                 name: str = "ssd_box") -> None:
        super().__init__(name=name, reduction="sum")
        self.delta, self.anchors, self.iou_gain = delta, anchors_cxcywh, iou_gain

    def call(self, y_true, y_pred):
        pos = y_true[..., 4]
        diff = tf.abs(y_true[..., :4] - y_pred)
        huber = tf.where(diff < self.delta, 0.5 * diff**2 / self.delta, diff - 0.5 * self.delta)
        n_pos = tf.maximum(tf.reduce_sum(pos), 1.0)
        loss = tf.reduce_sum(tf.reduce_sum(huber, -1) * pos) / n_pos
        if self.anchors is not None:
            boxes = decode_boxcoder_tf(y_pred, self.anchors)
            overlap = ciou(boxes, decode_boxcoder_tf(y_true[..., :4], self.anchors))
            loss += self.iou_gain * tf.reduce_sum((1.0 - overlap) * pos) / n_pos
        return loss


class SsdFocalLoss(keras.losses.Loss):
    """y_true (B, A, C+2) = [background, one-hot, weight]; y_pred (B, A, C+1) sigmoid scores."""

    def __init__(self, alpha: float = 0.25, gamma: float = 2.0, name: str = "ssd_cls",
                 gain: float = 1.0) -> None:
        super().__init__(name=name, reduction="sum")
        self.alpha, self.gamma, self.gain = alpha, gamma, gain

    def call(self, y_true, y_pred):
        t = y_true[..., :-1]
        w = y_true[..., -1:]
        p = tf.clip_by_value(y_pred, 1e-6, 1 - 1e-6)
        ce = -(t * tf.math.log(p) + (1 - t) * tf.math.log(1 - p))
        p_t = t * p + (1 - t) * (1 - p)
        a_t = t * self.alpha + (1 - t) * (1 - self.alpha)
        focal = a_t * (1 - p_t) ** self.gamma * ce
        n_pos = tf.maximum(tf.reduce_sum(1.0 - y_true[..., 0]), 1.0)
        return self.gain * tf.reduce_sum(focal * w) / n_pos


def grid_boxes_tf(p: tf.Tensor, stride: int, anchors_wh: np.ndarray, input_size: int) -> tf.Tensor:
    """p (B, H, W, A, 4) sigmoid x, y, w, h -> xyxy normalized to the input.

    Same formula as ``edge.core.yolo_grid.decode_grid`` (kept equal by a test):
    cx = (2x - 0.5 + col) * stride, w = (2w)^2 * anchor_w.
    """
    g = p.shape[1]
    cols = tf.reshape(tf.range(g, dtype=tf.float32), (1, 1, g, 1))
    rows = tf.reshape(tf.range(g, dtype=tf.float32), (1, g, 1, 1))
    a = tf.constant(np.asarray(anchors_wh, np.float32))
    cx = (2.0 * p[..., 0] - 0.5 + cols) * stride / input_size
    cy = (2.0 * p[..., 1] - 0.5 + rows) * stride / input_size
    w = (2.0 * p[..., 2]) ** 2 * a[:, 0] / input_size
    h = (2.0 * p[..., 3]) ** 2 * a[:, 1] / input_size
    return tf.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)


def ciou(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """Complete IoU of xyxy boxes (..., 4) (Zheng et al. 2020)."""
    eps = 1e-9
    iw = tf.maximum(tf.minimum(a[..., 2], b[..., 2]) - tf.maximum(a[..., 0], b[..., 0]), 0.0)
    ih = tf.maximum(tf.minimum(a[..., 3], b[..., 3]) - tf.maximum(a[..., 1], b[..., 1]), 0.0)
    inter = iw * ih
    wa, ha = a[..., 2] - a[..., 0], a[..., 3] - a[..., 1]
    wb, hb = b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]
    iou = inter / (wa * ha + wb * hb - inter + eps)
    cw = tf.maximum(a[..., 2], b[..., 2]) - tf.minimum(a[..., 0], b[..., 0])
    ch = tf.maximum(a[..., 3], b[..., 3]) - tf.minimum(a[..., 1], b[..., 1])
    c2 = cw**2 + ch**2 + eps
    rho2 = ((a[..., 0] + a[..., 2] - b[..., 0] - b[..., 2]) ** 2
            + (a[..., 1] + a[..., 3] - b[..., 1] - b[..., 3]) ** 2) / 4
    v = (4 / math.pi**2) * (tf.atan(wb / (hb + eps)) - tf.atan(wa / (ha + eps))) ** 2
    alpha = tf.stop_gradient(v / (v - iou + 1 + eps))
    return iou - rho2 / c2 - alpha * v


class YoloLoss(keras.losses.Loss):
    """One stride. y_true (B, H, W, A*(5+C)) = per anchor [x0, y0, x1, y1, obj, one-hot];
    y_pred (B, H, W, A*(5+C)) sigmoid outputs.

    box_gain 0.15, 3x YOLOv5's 0.05: on chess (12 CPU-minutes, side by side) mAP@[.5:.95] went
    from 0.381 to 0.458 at the same mAP@0.5; 0.3 gave 0.406 and lost mAP@0.5 (docs/benchmarks.md).
    The model was fitting boxes no better on its training images than on validation."""

    def __init__(self, stride: int, anchors_wh: np.ndarray, num_classes: int, input_size: int,
                 box_gain: float = 0.15, obj_gain: float = 1.0, cls_gain: float = 0.5,
                 name: str | None = None) -> None:
        super().__init__(name=name or f"yolo_s{stride}", reduction="sum")
        self.stride, self.num_classes, self.input_size = stride, num_classes, input_size
        self.anchors_wh = np.asarray(anchors_wh, np.float32)
        self.gains = (box_gain, obj_gain, cls_gain)

    def call(self, y_true, y_pred):
        a, c = len(self.anchors_wh), self.num_classes
        g = y_pred.shape[1]
        p = tf.reshape(y_pred, (-1, g, g, a, 5 + c))
        t = tf.reshape(y_true, (-1, g, g, a, 5 + c))
        pos = t[..., 4]
        n_pos = tf.maximum(tf.reduce_sum(pos), 1.0)
        boxes = grid_boxes_tf(p[..., :4], self.stride, self.anchors_wh, self.input_size)
        overlap = ciou(boxes, t[..., :4])
        box_l = tf.reduce_sum((1.0 - overlap) * pos) / n_pos
        # objectness target = IoU of the predicted box (YOLOv5): scores rank by box quality
        obj_t = pos * tf.stop_gradient(tf.clip_by_value(overlap, 0.0, 1.0))
        po = tf.clip_by_value(p[..., 4], 1e-6, 1 - 1e-6)
        obj_l = tf.reduce_mean(-(obj_t * tf.math.log(po) + (1 - obj_t) * tf.math.log(1 - po)))
        pc = tf.clip_by_value(p[..., 5:], 1e-6, 1 - 1e-6)
        tc = t[..., 5:]
        cls_bce = -(tc * tf.math.log(pc) + (1 - tc) * tf.math.log(1 - pc))
        cls_l = tf.reduce_sum(tf.reduce_mean(cls_bce, -1) * pos) / n_pos
        bg, og, cg = self.gains
        return bg * box_l + og * obj_l + cg * cls_l

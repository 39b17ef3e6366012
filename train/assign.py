"""Task-aligned assignment (TOOD / YOLOv8's ``TaskAlignedAssigner``) in TensorFlow.

For every ground-truth box, the anchor points inside it are ranked by how well the model
already does there, ``t = score(gt class) ** alpha * IoU(pred, gt) ** beta``; the top k
become its positives (several per box). A point claimed by two boxes goes to the one its
prediction overlaps most. Class targets are soft: ``t`` rescaled so that a box's best
positive gets that box's best IoU, which trains scores to rank by box quality (what NMS
and mAP reward). Everything here is a target: callers stop gradients through it.
"""

from __future__ import annotations

import tensorflow as tf

EPS = 1e-9


def pairwise_iou(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """a (B, M, 4), b (B, N, 4) xyxy -> IoU (B, M, N)."""
    a = a[:, :, None, :]
    b = b[:, None, :, :]
    iw = tf.maximum(tf.minimum(a[..., 2], b[..., 2]) - tf.maximum(a[..., 0], b[..., 0]), 0.0)
    ih = tf.maximum(tf.minimum(a[..., 3], b[..., 3]) - tf.maximum(a[..., 1], b[..., 1]), 0.0)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = tf.maximum(b[..., 2] - b[..., 0], 0.0) * tf.maximum(b[..., 3] - b[..., 1], 0.0)
    return inter / (area_a + area_b - inter + EPS)


def task_aligned_assign(scores: tf.Tensor, boxes: tf.Tensor, points: tf.Tensor, gt: tf.Tensor,
                        topk: int = 10, alpha: float = 0.5, beta: float = 6.0
                        ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Assign ground truth to anchor points.

    scores (B, N, C) predicted probabilities; boxes (B, N, 4) predicted xyxy; points (N, 2)
    anchor centres (x, y), all normalized to the input; gt (B, M, 5) = [x0, y0, x1, y1, class]
    with class -1 for padding rows.
    Returns target boxes (B, N, 4), soft class targets (B, N, C) and the foreground mask
    (B, N) float.
    """
    num_classes = scores.shape[-1]
    m = tf.shape(gt)[1]
    gt_box, gt_cls = gt[..., :4], gt[..., 4]
    valid = gt_cls >= 0
    cls_idx = tf.cast(tf.maximum(gt_cls, 0.0), tf.int32)
    px, py = points[None, None, :, 0], points[None, None, :, 1]
    in_gt = ((px > gt_box[..., 0:1]) & (px < gt_box[..., 2:3]) & (py > gt_box[..., 1:2])
             & (py < gt_box[..., 3:4]) & valid[..., None])  # (B, M, N)
    in_f = tf.cast(in_gt, scores.dtype)
    iou = pairwise_iou(gt_box, boxes) * in_f
    s = tf.gather(tf.transpose(scores, [0, 2, 1]), cls_idx, batch_dims=1)  # (B, M, N)
    align = tf.pow(s, alpha) * tf.pow(iou, beta) * in_f
    k = min(topk, int(points.shape[0]))
    kth = tf.math.top_k(align, k=k).values[..., -1:]
    pos = in_gt & (align >= kth) & (align > 0.0)
    # a point claimed by several boxes keeps the one it overlaps most
    claims = tf.reduce_sum(tf.cast(pos, tf.int32), axis=1)  # (B, N)
    best = tf.one_hot(tf.argmax(iou, axis=1), m, axis=1) > 0.5  # (B, M, N)
    pos = tf.where((claims > 1)[:, None, :], best & in_gt, pos)
    pos_f = tf.cast(pos, scores.dtype)
    align_pos = align * pos_f
    max_align = tf.reduce_max(align_pos, axis=-1, keepdims=True)
    max_iou = tf.reduce_max(iou * pos_f, axis=-1, keepdims=True)
    quality = tf.reduce_max(align_pos * max_iou / (max_align + EPS), axis=1)  # (B, N)
    target_idx = tf.argmax(pos_f, axis=1, output_type=tf.int32)  # (B, N)
    fg = tf.reduce_max(pos_f, axis=1)
    t_box = tf.gather(gt_box, target_idx, batch_dims=1)
    t_cls = tf.gather(cls_idx, target_idx, batch_dims=1)
    t_scores = tf.one_hot(t_cls, num_classes, dtype=scores.dtype) * (quality * fg)[..., None]
    return t_box, t_scores, fg

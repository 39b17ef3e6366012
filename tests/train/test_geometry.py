"""Targets and losses use the edge/core geometry: encodings decode back, TF grid == numpy grid."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from edge.core.anchors import BoxCoder, SsdAnchorSpec
from edge.core.yolo_grid import decode_grid
from train.anchors_kmeans import kmeans_anchors, mean_best_iou
from train.losses import ciou, grid_boxes_tf
from train.targets import SsdTargetEncoder, YoloTargetEncoder

GT = np.array([[0.1, 0.2, 0.4, 0.6], [0.5, 0.5, 0.9, 0.8]], np.float32)


def test_ssd_targets_decode_back_to_the_boxes() -> None:
    enc = SsdTargetEncoder(SsdAnchorSpec(((8, 8), (4, 4), (2, 2))), num_classes=3)
    box_t, cls_t = enc.encode(GT, np.array([2, 0]))
    pos = box_t[:, 4] > 0
    assert pos.sum() >= 2
    decoded = BoxCoder().decode(box_t[pos, :4], enc.anchors_cxcywh[pos])
    # each positive anchor regresses to one of the two boxes, with that box's class
    match = np.abs(decoded[:, None] - GT[None]).max(2).argmin(1)
    np.testing.assert_allclose(decoded, GT[match], atol=1e-5)
    np.testing.assert_array_equal(cls_t[pos, 1:-1].argmax(1), np.array([2, 0])[match])
    assert np.all(cls_t[~pos & (cls_t[:, -1] > 0), 0] == 1)  # negatives are background


def test_tf_grid_decode_equals_edge_core() -> None:
    rng = np.random.default_rng(0)
    anchors = np.array([[10, 14], [23, 27], [37, 58]], np.float32)
    out = rng.uniform(0, 1, (1, 4, 4, 3 * (5 + 2))).astype(np.float32)
    ref, _ = decode_grid(out, 32, anchors, 2, (128, 128))
    p = tf.reshape(tf.constant(out), (1, 4, 4, 3, 7))[..., :4]
    got = grid_boxes_tf(p, 32, anchors, 128).numpy().reshape(-1, 4)
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_yolo_targets_land_where_decode_reaches_them() -> None:
    anchors = [np.array([[20, 25], [40, 50], [60, 70]], np.float32), np.array([[90, 100]] * 3, np.float32)]
    enc = YoloTargetEncoder(128, [16, 32], anchors, num_classes=3)
    t16, t32 = enc.encode(GT, np.array([1, 2]))
    t16 = t16.reshape(8, 8, 3, 8)
    rows, cols, a = np.nonzero(t16[..., 4])
    assert len(rows) > 0
    for r, c, k in zip(rows, cols, a):
        box = t16[r, c, k, :4]
        ctr = (box[:2] + box[2:]) / 2 * 128 / 16
        # the bounded formula reaches centres in [col - 0.5, col + 1.5]
        assert c - 0.5 <= ctr[0] <= c + 1.5 and r - 0.5 <= ctr[1] <= r + 1.5
    assert t32.shape == (4, 4, 3 * 8)


def test_ciou_is_one_for_identical_boxes_and_lower_when_shifted() -> None:
    a = tf.constant(GT)
    np.testing.assert_allclose(ciou(a, a).numpy(), 1.0, atol=1e-5)
    assert np.all(ciou(a, a + 0.05).numpy() < 0.9)


def test_kmeans_fits_better_than_one_size() -> None:
    rng = np.random.default_rng(0)
    wh = np.concatenate([rng.normal([20, 20], 2, (100, 2)), rng.normal([80, 40], 4, (100, 2))])
    anchors = kmeans_anchors(wh, 2)
    assert mean_best_iou(wh, anchors) > 0.8
    assert mean_best_iou(wh, anchors) > mean_best_iou(wh, np.array([[50, 30]])) + 0.2


def test_atss_gives_small_boxes_several_positives_inside_them() -> None:
    from train.models.ssd import feature_map_sizes

    spec = SsdAnchorSpec(feature_map_sizes(320, 8))
    boxes = np.array([[0.1, 0.1, 0.16, 0.2], [0.5, 0.5, 0.9, 0.8], [0.3, 0.3, 0.35, 0.33]], np.float32)
    classes = np.array([0, 1, 2])
    iou_enc = SsdTargetEncoder(spec, 3)
    atss_enc = SsdTargetEncoder(spec, 3, assigner="atss")
    for enc in (iou_enc, atss_enc):
        bt, ct = enc.encode(boxes, classes)
        pos = bt[:, 4] > 0
        # every positive decodes back to the box it was given
        dec = enc.coder.decode(bt[pos, :4], enc.anchors_cxcywh[pos])
        owner = ct[pos, 1:-1].argmax(1)
        np.testing.assert_allclose(dec, boxes[owner], atol=1e-4)
        assert set(owner) == {0, 1, 2}
    bt, ct = atss_enc.encode(boxes, classes)
    pos = bt[:, 4] > 0
    per_box = [int((ct[pos, 1 + c] > 0).sum()) for c in range(3)]
    assert min(per_box) >= 2  # IoU >= 0.5 matching gives the two small boxes one anchor each
    centres = atss_enc.anchors_cxcywh[pos, :2]
    owner = boxes[ct[pos, 1:-1].argmax(1)]
    assert np.all((centres > owner[:, :2]) & (centres < owner[:, 2:]))
    assert np.all(ct[:, -1] == 1)  # no ignored band


def test_ssd_box_loss_iou_term_is_zero_for_exact_boxes_and_grows_when_off() -> None:
    from train.losses import SsdBoxLoss
    from train.models.ssd import feature_map_sizes

    enc = SsdTargetEncoder(SsdAnchorSpec(feature_map_sizes(96, 16)), 3)
    bt, _ = enc.encode(np.array([[0.2, 0.2, 0.6, 0.7]], np.float32), np.array([1]))
    loss = SsdBoxLoss(anchors_cxcywh=enc.anchors_cxcywh, iou_gain=2.0)
    y_true = tf.constant(bt[None])
    exact = float(loss(y_true, y_true[..., :4]))
    off = float(loss(y_true, y_true[..., :4] + 1.0))
    assert exact == pytest.approx(0.0, abs=1e-5) and off > exact
    assert off > float(SsdBoxLoss()(y_true, y_true[..., :4] + 1.0))  # the IoU term adds to smooth-L1


def test_ssd_class_loss_gain_scales_the_focal_loss_and_confident_right_answers_cost_little() -> None:
    from train.losses import SsdFocalLoss
    from train.models.ssd import feature_map_sizes

    enc = SsdTargetEncoder(SsdAnchorSpec(feature_map_sizes(96, 16)), 3)
    _, ct = enc.encode(np.array([[0.2, 0.2, 0.6, 0.7]], np.float32), np.array([1]))
    y_true = tf.constant(ct[None])
    right = tf.clip_by_value(y_true[..., :-1], 0.02, 0.98)  # confident and right
    wrong = 1.0 - right
    base, doubled = SsdFocalLoss(), SsdFocalLoss(gain=2.0)
    assert float(doubled(y_true, wrong)) == pytest.approx(2.0 * float(base(y_true, wrong)), rel=1e-6)
    assert float(base(y_true, right)) < 1e-3 * float(base(y_true, wrong))


def test_ssd_class_loss_gain_is_two_for_several_classes_one_for_one_and_the_knob_wins() -> None:
    """Several classes: the class loss also has to tell bishops from knights (2 measured best on
    chess); one class: it only tells object from background (1 measured best on raccoon)."""
    from train.families.ssd import CLS_GAIN, cls_gain

    assert CLS_GAIN == 2.0 and cls_gain({}, 13) == CLS_GAIN and cls_gain({}, 2) == CLS_GAIN
    assert cls_gain({}, 1) == 1.0
    assert cls_gain({"ssd_cls_gain": "4"}, 1) == 4.0 and cls_gain({"ssd_cls_gain": 1}, 13) == 1.0


@pytest.mark.parametrize(("strides", "strided", "pools"), [((16, 32), 0, 5), ((16, 32), 3, 2),
                                                          ((16, 32), 4, 1), ((8, 16, 32), 3, 2),
                                                          ((8, 16), 3, 2)])
def test_tiny_yolo_downsamples_by_strided_convs_or_pools_to_the_same_grids(
        strides: tuple[int, ...], strided: int, pools: int) -> None:
    """strided=0 is YOLOv3-tiny (conv + max-pool at every step); the default makes the first
    three steps stride-2 convs. Either way the heads sit at the contract's strides."""
    from keras import layers

    from train.models.tiny_yolo import build_tiny_yolo

    m = build_tiny_yolo(96, 3, width=0.25, strides=strides, strided=strided)
    assert [o.shape[1] for o in m.outputs] == [96 // s for s in strides]
    assert sum(isinstance(x, layers.MaxPooling2D) for x in m.layers) == pools
    with pytest.raises(ValueError, match="strided must be 0..4"):
        build_tiny_yolo(96, 3, width=0.25, strided=5)
    with pytest.raises(ValueError, match="stride-8 head needs strided <= 3"):
        build_tiny_yolo(96, 3, width=0.25, strides=(8, 16, 32), strided=4)
    with pytest.raises(ValueError, match="strides must be one of"):
        build_tiny_yolo(96, 3, width=0.25, strides=(4, 8))


def test_tiny_yolo_bottleneck_neck_narrows_before_the_stride16_conv() -> None:
    """neck16=bottleneck puts a 1x1 to half the p16 conv's width in front of it; same outputs."""
    from train.models.tiny_yolo import build_tiny_yolo

    full = build_tiny_yolo(96, 3, width=0.5)
    slim = build_tiny_yolo(96, 3, width=0.5, neck16="bottleneck")
    assert full.get_layer("p16_conv").output.shape[-1] == 128  # 256 x width 0.5
    assert slim.get_layer("p16_reduce_conv").output.shape[-1] == 64
    assert slim.get_layer("p16_conv").kernel.shape[2] == 64  # the 3x3 reads the narrowed features
    assert [o.shape for o in slim.outputs] == [o.shape for o in full.outputs]
    assert slim.count_params() < full.count_params()
    with pytest.raises(ValueError, match="neck16 must be one of"):
        build_tiny_yolo(96, 3, width=0.5, neck16="wide")

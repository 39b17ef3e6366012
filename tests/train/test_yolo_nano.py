"""The anchor-free nano YOLO: its training-side geometry equals the device decode, the
assigner gives several quality-weighted positives per box, it learns, and its int8 model
maps entirely onto the Edge TPU op table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from edge.core.yolo_ltrb import anchor_points, decode_ltrb
from train.assign import task_aligned_assign
from train.families.yolo_nano import GtEncoder, ltrb_boxes_tf
from train.models.yolo_nano import LTRB_RANGE, STRIDES


def test_tf_ltrb_decode_equals_edge_core() -> None:
    size, n_cls = 128, 3
    n = len(anchor_points((size, size), list(STRIDES))[0])
    out = np.random.default_rng(0).uniform(0, 1, (1, n, 4 + n_cls)).astype(np.float32)
    ref, scores = decode_ltrb(out, list(STRIDES), LTRB_RANGE, n_cls, (size, size))
    got = ltrb_boxes_tf(tf.constant(out[..., :4]), size).numpy()[0]
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(scores, out[0, :, 4:])


def test_points_are_cell_centres_finest_stride_first() -> None:
    pts, st = anchor_points((64, 32), [8, 16])
    assert len(pts) == 8 * 4 + 4 * 2
    np.testing.assert_array_equal(pts[0], [4, 4])
    np.testing.assert_array_equal(pts[1], [12, 4])  # row-major: x moves first
    np.testing.assert_array_equal(pts[32], [8, 8])
    assert set(st[:32]) == {8} and set(st[32:]) == {16}


def test_decode_rejects_a_mismatched_output_with_the_expected_shape() -> None:
    with pytest.raises(ValueError, match=r"expected \(336, 7\)"):
        decode_ltrb(np.zeros((1, 300, 7), np.float32), list(STRIDES), LTRB_RANGE, 3, (128, 128))


def test_task_aligned_assigner_gives_soft_targets_to_several_points_inside_each_box() -> None:
    size, n_cls = 128, 3
    pts, _ = anchor_points((size, size), list(STRIDES))
    points = tf.constant(pts / size, tf.float32)
    n = len(pts)
    gt_np = np.full((1, 4, 5), -1.0, np.float32)  # two boxes + two padding rows
    gt_np[0, 0] = [0.1, 0.1, 0.5, 0.5, 2]
    gt_np[0, 1] = [0.6, 0.55, 0.9, 0.95, 0]
    gt = tf.constant(gt_np)
    # predictions: every point predicts one box shape around itself, with scattered scores
    # (equal scores would tie at the k-th place, and ties are all kept)
    scores = tf.constant(np.random.default_rng(0).uniform(0.2, 0.6, (1, n, n_cls)), tf.float32)
    half = np.array([0.2, 0.2, 0.2, 0.2], np.float32)
    boxes = tf.constant(np.concatenate([pts / size - half[:2], pts / size + half[2:]], 1)[None])
    t_box, t_scores, fg = (t.numpy()[0] for t in task_aligned_assign(scores, boxes, points, gt, topk=10))
    for gi, cls in ((0, 2), (1, 0)):
        mine = np.flatnonzero((fg > 0) & np.all(t_box == gt_np[0, gi, :4], axis=1))
        assert 2 <= len(mine) <= 10  # several positives, at most top-k
        x0, y0, x1, y1 = gt_np[0, gi, :4]
        inside = (pts[mine, 0] / size > x0) & (pts[mine, 0] / size < x1)
        inside &= (pts[mine, 1] / size > y0) & (pts[mine, 1] / size < y1)
        assert inside.all()  # only points inside the box
        assert np.all(t_scores[mine, cls] > 0) and np.all(t_scores[mine, cls] <= 1.0)
        others = np.delete(np.arange(n_cls), cls)
        assert np.all(t_scores[mine][:, others] == 0)
    assert np.all(t_scores[fg == 0] == 0)  # background points: all-zero class targets


def test_gt_encoder_pads_and_keeps_the_largest_when_full() -> None:
    enc = GtEncoder(max_boxes=2)
    boxes = [np.array([[0, 0, 0.1, 0.1], [0, 0, 0.5, 0.5], [0, 0, 0.3, 0.3]], np.float32), np.zeros((0, 4))]
    (out,) = enc.encode_batch(boxes, [np.array([0, 1, 2]), np.zeros(0, int)])
    assert out.shape == (2, 2, 5)
    assert sorted(out[0, :, 4].tolist()) == [1, 2]  # the two largest boxes
    assert np.all(out[1] == -1)


@pytest.mark.slow
def test_int8_model_maps_every_op_to_the_edgetpu(tmp_path: Path) -> None:
    from convert.edgetpu import precheck
    from convert.tflite import convert_keras
    from train.models.yolo_nano import build_yolo_nano

    model = build_yolo_nano(96, 3, width=0.25)
    rng = np.random.default_rng(0)
    calib = [rng.uniform(0, 1, (1, 96, 96, 3)).astype(np.float32) for _ in range(4)]
    path = tmp_path / "nano.tflite"
    path.write_bytes(convert_keras(model, "int8", "uint8", calib))
    rep = precheck(path)
    assert rep.issues == [], rep.text()
    assert rep.predicted_tpu_fraction == 1.0, rep.text()


@pytest.mark.slow
def test_nano_trains_converts_to_int8_and_runs_on_the_device_path(synth_data: Path, tmp_path: Path) -> None:
    """train -> int8 (parity gate on both mAPs) -> the device Detector, the whole chain."""
    from convert.pipeline import ConvertOptions, convert_run
    from edge.datasets import load_splits
    from edge.detector import Detector
    from edge.evaluation.evaluate import evaluate_detector
    from train.fit import TrainConfig, train

    r = train(TrainConfig(data=synth_data, out=tmp_path / "run", model="yolo-nano", input_size=96, epochs=4,
                          batch_size=8, width=0.25, lr=3e-3, augment=False, verbose=0, seed=0,
                          steps_per_epoch=20))
    assert r.metadata.decoder.layout == "ltrb" and r.metadata.provenance["family"] == "yolo-nano"
    res = convert_run(r.out, tmp_path / "nano.tflite", ConvertOptions(
        quant="int8", calib_data=synth_data / "train" / "images", calib_count=16, val_data=synth_data,
        max_drop=0.1, progress=False))
    assert res.parity is not None and res.parity.passed, res.parity.text()
    det = Detector.load(res.out, score=0.01)
    assert det.decoder.name == "yolo-ltrb"
    _, val = load_splits(synth_data)
    got = evaluate_detector(det.detect, val, False)
    assert abs(got.map50 - res.parity.tflite_map50) < 1e-6  # the device path is what parity measured

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.core.boxes import (
    Detections,
    cxcywh_to_xyxy,
    iou_matrix,
    xywh_px_to_xyxy,
    xyxy_to_cxcywh,
    xyxy_to_xywh_px,
    yxyx_to_xyxy,
)
from edge.core.letterbox import letterbox, resize_for_model, stretch


def test_format_round_trips():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 0.5, (50, 2))
    b = np.concatenate([xy, xy + rng.uniform(0.01, 0.5, (50, 2))], 1).astype(np.float32)
    np.testing.assert_allclose(cxcywh_to_xyxy(xyxy_to_cxcywh(b)), b, atol=1e-6)
    np.testing.assert_allclose(xywh_px_to_xyxy(xyxy_to_xywh_px(b)), b, atol=1e-6)
    np.testing.assert_array_equal(yxyx_to_xyxy(yxyx_to_xyxy(b)), b)


def test_iou_known_values():
    a = np.array([[0, 0, 2, 2]], np.float32)
    b = np.array([[1, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6]], np.float32)
    np.testing.assert_allclose(iou_matrix(a, b), [[1 / 7, 1.0, 0.0]], rtol=1e-6)
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 3)


def test_detections_validates_and_indexes():
    d = Detections([[0.1, 0.1, 0.5, 0.5], [0.2, 0.2, 0.9, 0.9]], [0.4, 0.9], [1, 0], ["a", "b"])
    assert d.sorted().scores.tolist() == pytest.approx([0.9, 0.4])
    assert len(d[d.scores > 0.5]) == 1 and d[d.scores > 0.5].label_names == ["a"]
    assert len(Detections.empty()) == 0
    with pytest.raises(ValueError, match="differ in length"):
        Detections([[0, 0, 1, 1]], [0.1, 0.2], [0])
    with pytest.raises(ValueError, match="normalized"):
        Detections([[10, 10, 200, 200]], [0.5], [0])
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        Detections([[0, 0, 1]], [0.5], [0])


@settings(max_examples=60, deadline=None)
@given(fw=st.integers(16, 1920), fh=st.integers(16, 1920), iw=st.integers(32, 640),
       ih=st.integers(32, 640), mode=st.sampled_from(["letterbox", "stretch"]))
def test_letterbox_inverse_round_trip(fw, fh, iw, ih, mode):
    frame = np.zeros((fh, fw, 3), np.uint8)
    img, tf = resize_for_model(frame, (iw, ih), mode, 114)
    assert img.shape == (ih, iw, 3)
    rng = np.random.default_rng(fw * 7 + fh)
    xy = rng.uniform(0, 0.6, (20, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(0, 0.4, (20, 2))], 1).astype(np.float32)
    # float32 boxes: a 16 px frame squeezed to a 1 px strip scales by ~20 and back, so the
    # round trip carries ~1e-5 of rounding (0.2 px of a 1920 px frame at 1e-4)
    np.testing.assert_allclose(tf.to_frame(tf.to_model(boxes)), boxes, atol=1e-4)
    np.testing.assert_allclose(tf.to_model(tf.to_frame(boxes)), boxes, atol=1e-4)
    # the whole frame maps onto exactly the non-padded content region
    full = tf.to_model(np.array([[0, 0, 1, 1]], np.float32))[0]
    np.testing.assert_allclose(full, tf.content_xyxy, atol=1e-6)


def test_letterbox_pads_centred_and_never_mutates():
    frame = np.full((100, 200, 3), 7, np.uint8)
    before = frame.copy()
    img, tf = letterbox(frame, (64, 64), pad_value=114)
    np.testing.assert_array_equal(frame, before)
    assert tf.pad_xy == (0.0, 16.0) and img[0, 0, 0] == 114 and img[32, 32, 0] == 7
    # a pixel box in the frame lands where the padding says
    box_px = np.array([[50, 25, 150, 75]], np.float32) / [200, 100, 200, 100]
    np.testing.assert_allclose(tf.to_model(box_px) * 64, [[16, 24, 48, 40]], atol=1e-4)
    s_img, s_tf = stretch(frame, (64, 32))
    assert s_img.shape == (32, 64, 3) and s_tf.pad_xy == (0.0, 0.0)

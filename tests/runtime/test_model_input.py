"""The one frame -> model input function reproduces each former implementation bit for bit."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.core.letterbox import letterbox, resize_for_model
from edge.core.metadata import InputSpec, Normalization
from edge.core.model_input import InputLayout, encode_pixels, model_input


@pytest.fixture()
def frame(ssd_dir) -> np.ndarray:
    return cv2.imread(str(ssd_dir / "cats_and_dogs.jpg"))


def test_training_pixels_are_rgb_letterboxed_uint8(frame):
    """train.data.load_letterboxed used to convert to RGB first, then letterbox."""
    layout = InputLayout((320, 320), pad_value=114, dtype="uint8", normalize=None)
    got, tf = model_input(frame, layout)
    want, want_tf = letterbox(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), (320, 320), 114)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, want)
    assert tf == want_tf


def test_float_input_is_pixel_minus_mean_over_std(frame):
    """The Keras runner and calibration: (RGB pixel - mean) / std in float32."""
    spec = InputSpec(size_wh=(160, 96), resize="stretch", normalization=Normalization(
        mean=(127.5, 120.0, 100.0), std=(127.5, 60.0, 50.0)))
    got, _ = model_input(frame, InputLayout.from_spec(spec))
    img, _ = resize_for_model(frame, (160, 96), "stretch", 114, "bilinear")
    rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB).astype(np.float32)
    want = (rgb - np.float32([127.5, 120.0, 100.0])) / np.float32([127.5, 60.0, 50.0])
    assert got.shape == (96, 160, 3) and got.dtype == np.float32
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype,scale,zp", [("uint8", 1 / 255, 0), ("int8", 1 / 255, -128),
                                             ("uint8", 2 / 255, 128), ("int8", 0.0078125, 0)])
def test_quantized_input_folds_normalization_into_quantization(dtype, scale, zp):
    pixels = np.arange(256, dtype=np.uint8).repeat(3).reshape(16, 16, 3)
    layout = InputLayout((16, 16), dtype=dtype, quant_scale=scale, quant_zero_point=zp)
    got = encode_pixels(pixels, layout)
    info = np.iinfo(dtype)
    want = np.clip(np.round(pixels / 255.0 / scale + zp), info.min, info.max).astype(dtype)
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, want)


def test_raw_pixels_for_foreign_integer_models():
    pixels = np.array([[[0, 128, 255]]], np.uint8)
    assert encode_pixels(pixels, InputLayout((1, 1), dtype="uint8", normalize=None)) is pixels
    shifted = encode_pixels(pixels, InputLayout((1, 1), dtype="int8", normalize=None))
    np.testing.assert_array_equal(shifted, np.array([[[-128, 0, 127]]], np.int8))


def test_grey_model_and_bgr_order(frame):
    grey, _ = model_input(frame, InputLayout((64, 64), channels=1, dtype="uint8", normalize=None))
    assert grey.shape == (64, 64, 1)
    bgr, _ = model_input(frame, InputLayout((64, 64), channel_order="BGR", dtype="uint8", normalize=None))
    rgb, _ = model_input(frame, InputLayout((64, 64), dtype="uint8", normalize=None))
    np.testing.assert_array_equal(bgr, rgb[..., ::-1])


def test_input_frame_is_not_mutated_and_bad_frames_are_named(frame):
    before = frame.copy()
    model_input(frame, InputLayout((300, 300)))
    np.testing.assert_array_equal(frame, before)
    with pytest.raises(ValueError, match=r"expected a BGR image of shape \(H, W, 3\)"):
        model_input(np.zeros((10, 10), np.uint8), InputLayout((300, 300)))
    with pytest.raises(ValueError, match="channel_order must be one of"):
        InputLayout((300, 300), channel_order="RBG")

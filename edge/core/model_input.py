"""Camera frame -> model input tensor: the one implementation, used everywhere.

Training's input pipeline, calibration, the Keras runner and the device all call
``model_input`` with an ``InputLayout``, so resize mode, pad value, interpolation, channel
order, normalization and input quantization cannot differ between train time and run time.

Normalization is ``(pixel - mean) / std`` per channel in the model's channel order. For
quantized inputs it is folded with the quantization into a 256-entry lookup table (one
gather per frame); float inputs compute it directly in float32.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import cv2
import numpy as np

from edge.core.letterbox import FrameTransform, resize_for_model
from edge.core.metadata import InputSpec, Normalization

CHANNEL_ORDERS = ("RGB", "BGR")
INPUT_DTYPES = ("uint8", "int8", "float32", "float16")


@dataclass(frozen=True)
class InputLayout:
    """Everything that turns a frame into a model input.

    size_wh: model input (width, height) in pixels; channels: 1 (grey) or 3.
    dtype: the input tensor's dtype name; quant_scale / quant_zero_point: its quantization
    (scale 0: not quantized). normalize: None feeds raw pixel values (0..255), which is
    right for uint8 models and for quantized models whose quantization encodes the
    normalization; int8 without quantization takes pixels shifted by -128.
    """

    size_wh: tuple[int, int]
    channels: int = 3
    resize: str = "letterbox"
    pad_value: int = 114
    interpolation: str = "bilinear"
    channel_order: str = "RGB"
    dtype: str = "float32"
    quant_scale: float = 0.0
    quant_zero_point: int = 0
    normalize: Normalization | None = field(default_factory=Normalization)

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if self.channel_order not in CHANNEL_ORDERS:
            raise ValueError(f"channel_order must be one of {CHANNEL_ORDERS}, got {self.channel_order!r}")
        if self.dtype not in INPUT_DTYPES:
            raise ValueError(f"input dtype must be one of {INPUT_DTYPES}, got {self.dtype!r}")

    @classmethod
    def from_spec(cls, spec: InputSpec, *, channels: int = 3, dtype: str = "float32",
                  quant_scale: float = 0.0, quant_zero_point: int = 0) -> InputLayout:
        """Resize, channel order and normalization from a model record; the tensor's dtype
        and quantization from the caller (a backend's signature is the truth about those)."""
        return cls(tuple(spec.size_wh), channels, spec.resize, spec.pad_value, spec.interpolation,
                   spec.channel_order, dtype, quant_scale, quant_zero_point, spec.normalization)

    @property
    def quantized(self) -> bool:
        return self.quant_scale != 0.0 and self.dtype in ("uint8", "int8")

    @cached_property
    def _encoder(self) -> _Encoder:
        return _Encoder.build(self)


@dataclass(frozen=True)
class _Encoder:
    """Precomputed pixel -> input-value mapping, so the per-frame cost is one gather or FMA."""

    dtype: np.dtype
    lut: np.ndarray | None = None  # (256, 3) pixel value -> input value, per channel
    mean: np.ndarray | None = None  # float path: (3,) float32
    std: np.ndarray | None = None

    @staticmethod
    def build(layout: InputLayout) -> _Encoder:
        dtype = np.dtype(layout.dtype)
        norm = layout.normalize
        if norm is None and dtype.kind in "ui":
            if dtype == np.int8:  # same real value, shifted storage
                return _Encoder(dtype, (np.arange(256) - 128).astype(np.int8)[:, None].repeat(3, 1))
            return _Encoder(dtype)  # identity: raw uint8 pixels
        if norm is not None and layout.quantized:
            mean, std = np.asarray(norm.mean, np.float64), np.asarray(norm.std, np.float64)
            real = (np.arange(256)[:, None] - mean) / std  # (256, 3)
            q = np.round(real / layout.quant_scale + layout.quant_zero_point)
            info = np.iinfo(dtype)
            lut = np.clip(q, info.min, info.max).astype(dtype)
            identity = np.arange(256, dtype=np.uint8)[:, None].repeat(3, 1)
            if dtype == np.uint8 and np.array_equal(lut, identity):
                return _Encoder(dtype)
            return _Encoder(dtype, lut)
        norm = norm or Normalization()
        return _Encoder(dtype, mean=np.asarray(norm.mean, np.float32), std=np.asarray(norm.std, np.float32))

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        c = pixels.shape[-1]  # (h, w, C) or a batch (B, h, w, C)
        if self.lut is not None:
            return self.lut[pixels, np.arange(c)]
        if self.mean is None:
            return pixels
        out = (pixels.astype(np.float32) - self.mean[:c]) / self.std[:c]
        return out.astype(self.dtype, copy=False)


def model_pixels(image_bgr: np.ndarray, layout: InputLayout) -> tuple[np.ndarray, FrameTransform]:
    """Resize and reorder only: (H, W, 3) uint8 BGR -> (h, w, C) uint8 in the model's
    channel order, before normalization (training caches these and augments them)."""
    if not isinstance(image_bgr, np.ndarray) or image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
        raise ValueError(f"expected a BGR image of shape (H, W, 3), got {getattr(image_bgr, 'shape', None)}")
    img, tf = resize_for_model(image_bgr, tuple(layout.size_wh), layout.resize, layout.pad_value,
                               layout.interpolation)
    if layout.channels == 1:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)[..., None]
    elif layout.channel_order == "RGB":
        # after the resize: it is per-channel, so the order of the two does not change a pixel
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return img, tf


def encode_pixels(pixels: np.ndarray, layout: InputLayout) -> np.ndarray:
    """(h, w, C) (or a batch (B, h, w, C)) uint8 in the model's channel order -> the input
    tensor of the same shape in ``layout.dtype``: normalized, then quantized when the input is."""
    return layout._encoder(pixels)  # noqa: SLF001 - cached per layout


def model_input(image_bgr: np.ndarray, layout: InputLayout) -> tuple[np.ndarray, FrameTransform]:
    """(H, W, 3) uint8 BGR frame -> (model tensor (h, w, C) in ``layout.dtype``, no batch
    axis; FrameTransform mapping normalized model-input boxes back to the frame).

    Never mutates the frame.
    """
    pixels, tf = model_pixels(image_bgr, layout)
    return encode_pixels(pixels, layout), tf

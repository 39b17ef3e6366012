"""Resizing a camera frame to a model input, and the exact inverse for its boxes.

``letterbox`` keeps the aspect ratio and pads (YOLO-style, centred); ``stretch`` scales
each axis independently (how the TF Object Detection API SSDs were trained). Both return
the resized image and a ``FrameTransform`` that maps normalized boxes between the model
input frame and the camera frame. ``edge.core.model_input`` (the one frame -> tensor
function of training, calibration, evaluation and the device) resizes with them, so
train-time and run-time geometry cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

RESIZE_MODES = ("letterbox", "stretch")
# bilinear: OpenCV INTER_LINEAR, no antialias (how the TF OD API SSDs were evaluated).
# area: OpenCV INTER_AREA (Ultralytics' validation loader when shrinking).
# antialias: triangle-filter bilinear over the whole footprint, as Pillow and
#   tf.image.resize(antialias=True) do; reproduces published YOLOv5 TFLite figures.
INTERPOLATIONS = ("bilinear", "area", "antialias")


def resize_image(image: np.ndarray, size_wh: tuple[int, int], interpolation: str = "bilinear") -> np.ndarray:
    """Resize an (H, W[, C]) uint8 image to ``size_wh``; never mutates the input."""
    if interpolation == "bilinear":
        return cv2.resize(image, size_wh, interpolation=cv2.INTER_LINEAR)
    if interpolation == "area":
        return cv2.resize(image, size_wh, interpolation=cv2.INTER_AREA)
    if interpolation == "antialias":
        try:
            from PIL import Image
        except ImportError as e:
            raise RuntimeError("interpolation 'antialias' needs Pillow: pip install pillow") from e
        # Pillow filters channels independently, so BGR data in an "RGB" image is fine
        squeeze = image.ndim == 3 and image.shape[2] == 1
        pil = Image.fromarray(image[..., 0] if squeeze else image)
        out = np.asarray(pil.resize(size_wh, Image.BILINEAR))
        return out[..., None] if squeeze else out
    raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")


@dataclass(frozen=True)
class FrameTransform:
    """Affine map between a camera frame and a model input.

    model_px = frame_px * scale_xy + pad_xy (per axis); both frames' sizes are kept so
    normalized boxes can be mapped either way.
    """

    frame_wh: tuple[int, int]
    input_wh: tuple[int, int]
    scale_xy: tuple[float, float]
    pad_xy: tuple[float, float]

    def _affine(self) -> tuple[np.ndarray, np.ndarray]:
        fw, fh = self.frame_wh
        iw, ih = self.input_wh
        sx, sy = self.scale_xy
        px, py = self.pad_xy
        # normalized model coords -> normalized frame coords: f = m * a + b
        a = np.array([iw / (sx * fw), ih / (sy * fh)], np.float64)
        b = np.array([-px / (sx * fw), -py / (sy * fh)], np.float64)
        return np.tile(a, 2), np.tile(b, 2)

    def to_frame(self, xyxy: np.ndarray) -> np.ndarray:
        """(N, 4) boxes normalized to the model input -> normalized to the camera frame."""
        a, b = self._affine()
        return (np.asarray(xyxy, np.float64).reshape(-1, 4) * a + b).astype(np.float32)

    def to_model(self, xyxy: np.ndarray) -> np.ndarray:
        """(N, 4) boxes normalized to the camera frame -> normalized to the model input."""
        a, b = self._affine()
        return ((np.asarray(xyxy, np.float64).reshape(-1, 4) - b) / a).astype(np.float32)

    @property
    def content_xyxy(self) -> tuple[float, float, float, float]:
        """Region of the model input (normalized) covered by the frame, i.e. not padding."""
        fw, fh = self.frame_wh
        iw, ih = self.input_wh
        sx, sy = self.scale_xy
        px, py = self.pad_xy
        return (px / iw, py / ih, (px + fw * sx) / iw, (py + fh * sy) / ih)


def _check(frame: np.ndarray, input_wh: tuple[int, int]) -> tuple[int, int, int, int]:
    if not isinstance(frame, np.ndarray) or frame.ndim not in (2, 3) or frame.size == 0:
        shape = getattr(frame, "shape", None)
        raise ValueError(f"frame must be an (H, W[, C]) image array, got shape {shape}")
    iw, ih = int(input_wh[0]), int(input_wh[1])
    if iw <= 0 or ih <= 0:
        raise ValueError(f"input_wh must be positive, got {input_wh}")
    fh, fw = frame.shape[:2]
    return fw, fh, iw, ih


def letterbox(
    frame: np.ndarray, input_wh: tuple[int, int], pad_value: int = 114,
    interpolation: str = "bilinear",
) -> tuple[np.ndarray, FrameTransform]:
    """Fit ``frame`` inside ``input_wh`` keeping its aspect ratio, centred, padded.

    frame: (H, W, C) uint8 (any channel order; it is kept). Never mutated.
    Returns (image of shape (input_h, input_w, C), transform).
    """
    fw, fh, iw, ih = _check(frame, input_wh)
    r = min(iw / fw, ih / fh)
    nw, nh = max(1, min(iw, round(fw * r))), max(1, min(ih, round(fh * r)))
    left, top = (iw - nw) // 2, (ih - nh) // 2
    if (nw, nh) == (fw, fh):
        resized = frame
    else:
        resized = resize_image(frame, (nw, nh), interpolation)
    if (nw, nh) == (iw, ih):
        out = resized if resized is not frame else frame.copy()
    else:
        out = cv2.copyMakeBorder(
            resized, top, ih - nh - top, left, iw - nw - left, cv2.BORDER_CONSTANT,
            value=(pad_value,) * 4,
        )
    if out.ndim == 2 and frame.ndim == 3:  # cv2 drops a single channel axis
        out = out[..., None]
    return out, FrameTransform((fw, fh), (iw, ih), (nw / fw, nh / fh), (float(left), float(top)))


def stretch(
    frame: np.ndarray, input_wh: tuple[int, int], interpolation: str = "bilinear"
) -> tuple[np.ndarray, FrameTransform]:
    """Resize ``frame`` to exactly ``input_wh``, no padding."""
    fw, fh, iw, ih = _check(frame, input_wh)
    if (fw, fh) == (iw, ih):
        out = frame.copy()
    else:
        out = resize_image(frame, (iw, ih), interpolation)
    if out.ndim == 2 and frame.ndim == 3:
        out = out[..., None]
    return out, FrameTransform((fw, fh), (iw, ih), (iw / fw, ih / fh), (0.0, 0.0))


def resize_for_model(
    frame: np.ndarray, input_wh: tuple[int, int], mode: str = "letterbox", pad_value: int = 114,
    interpolation: str = "bilinear",
) -> tuple[np.ndarray, FrameTransform]:
    """Dispatch on ``mode`` (one of RESIZE_MODES)."""
    if mode == "letterbox":
        return letterbox(frame, input_wh, pad_value, interpolation)
    if mode == "stretch":
        return stretch(frame, input_wh, interpolation)
    raise ValueError(f"resize mode must be one of {RESIZE_MODES}, got {mode!r}")

"""The one image-file reader: training, calibration, evaluation and image-folder sources all
decode through ``read_image_bgr``, so a file becomes the same pixels everywhere.

- grayscale, BGRA and 16-bit files become (H, W, 3) uint8 BGR (``IMREAD_COLOR``);
- EXIF orientation is applied (OpenCV does it for ``IMREAD_COLOR``; ``image_size_wh``
  reports the size after it, so normalized boxes refer to the pixels decoded here);
- a JPEG without its end-of-image marker is decoded (libjpeg fills the missing rows with
  grey) and named in a warning: libjpeg's own "Premature end of JPEG file" names no file.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

_JPEG_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif")
_JPEG_EOI = b"\xff\xd9"
# EXIF orientations (tag 274) that turn the image by 90 degrees: width and height swap
_EXIF_ORIENTATION = 274
_SWAPS_AXES = (5, 6, 7, 8)


def is_truncated_jpeg(path: Path) -> bool:
    """True for a .jpg whose last two bytes are not the end-of-image marker."""
    if path.suffix.lower() not in _JPEG_SUFFIXES:
        return False
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        if fh.tell() < 2:
            return True
        fh.seek(-2, 2)
        return fh.read(2) != _JPEG_EOI


def read_image_bgr(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8 BGR, EXIF orientation applied. FileNotFoundError / ValueError name
    the file when it is missing or cannot be decoded."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"image not found: {p}")
    img = cv2.imread(str(p), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"{p}: unreadable image (not a format OpenCV can decode, or corrupt)")
    if is_truncated_jpeg(p):
        log.warning("%s: truncated JPEG (no end-of-image marker); the missing rows decode grey", p)
    return img


def exif_size_wh(path: str | Path) -> tuple[int, int] | None:
    """Width, height after EXIF orientation, from the header (no full decode); None if the
    file is unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            w, h = int(im.size[0]), int(im.size[1])
            orientation = im.getexif().get(_EXIF_ORIENTATION, 1)
    except (OSError, UnidentifiedImageError):
        return None
    return (h, w) if orientation in _SWAPS_AXES else (w, h)

"""Calibration images, prepared exactly as the device prepares a frame.

Each image goes through ``edge.core.model_input`` (the device's frame -> tensor function)
with the record's resize mode, pad value, interpolation, channel order and normalization,
so the int8 ranges the converter measures are the ranges the device will feed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edge.core.image_file import read_image_bgr
from edge.core.metadata import InputSpec
from edge.core.model_input import InputLayout, encode_pixels, model_input

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class CalibrationError(ValueError):
    """Calibration data is missing or unusable; the message names the folder or file."""


def _yaml_images_dir(data_yaml: Path) -> Path:
    """The images folder a dataset YAML calibrates on: its ``val`` split, else ``train``
    (Ultralytics' int8 export calibrates on ``val`` too)."""
    from edge.datasets.yolo import split_dirs

    dirs = split_dirs(data_yaml)
    for split in ("val", "train", "test"):
        if split in dirs:
            return dirs[split]
    raise CalibrationError(f"--calib-data {data_yaml}: names no train/val/test images folder")


def find_images(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursive, sorted), or under the images folder of a
    dataset YAML. Raises if none."""
    from edge.datasets.yolo import is_data_yaml

    folder = Path(folder)
    if is_data_yaml(folder):
        folder = _yaml_images_dir(folder)
    if not folder.exists():
        raise CalibrationError(f"--calib-data {folder}: no such folder")
    if not folder.is_dir():
        raise CalibrationError(f"--calib-data {folder}: expected a folder of images")
    images = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise CalibrationError(f"--calib-data {folder}: no images found (looked for "
                               f"{', '.join(IMAGE_SUFFIXES)}, recursively)")
    return images


def pick(images: list[Path], count: int, seed: int = 0) -> list[Path]:
    """A fixed random sample: augmented datasets repeat each photo, so the first N are not
    representative."""
    if count < 1:
        raise CalibrationError(f"--calib-count must be >= 1, got {count}")
    if len(images) <= count:
        return list(images)
    return sorted(random.Random(seed).sample(images, count))


def load_calibration(folder: Path, spec: InputSpec, count: int = 300,
                     progress: bool = True) -> list[np.ndarray]:
    """``count`` images from ``folder`` as (1, H, W, 3) float32 model inputs.

    All are read up front so a bad file fails before the (slow) converter starts.
    """
    paths = pick(find_images(folder), count)
    it: Iterator[Path] | list[Path] = paths
    if progress:
        from tqdm import tqdm

        it = tqdm(paths, desc="calibration images", unit="img")
    layout = InputLayout.from_spec(spec, dtype="float32")  # the float model being converted
    batch = [model_input(read_image_bgr(p), layout)[0][None] for p in it]
    _span_full_range(batch[0], layout)
    return batch


def _span_full_range(x: np.ndarray, layout: InputLayout) -> None:
    """Make the input's calibrated range cover pixels 0..255.

    The converter sets the input quantization from the min/max it sees; calibration images
    without pure black and white would leave the device clipping bright pixels. Two corner
    pixels of one image barely move the inner layers' ranges.
    """
    black_white = np.array([[[0, 0, 0], [255, 255, 255]]], np.uint8)[..., : x.shape[-1]]
    x[0, 0, :2] = encode_pixels(black_white, layout)[0]

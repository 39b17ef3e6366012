"""Issue 13: one image reader for calibration, training, evaluation and image folders:
grayscale and BGRA become BGR, EXIF orientation is applied alike, a truncated JPEG is named."""

from __future__ import annotations

import logging

import cv2
import numpy as np
from PIL import Image

from convert.calibration import load_calibration
from edge.core.image_file import read_image_bgr
from edge.core.metadata import InputSpec
from edge.datasets.types import image_size_wh
from edge.evaluation.evaluate import read_bgr
from edge.sources.images import ImageSource

GRAY = ("raccoon-150.jpg", "raccoon-152.jpg", "raccoon-161.jpg")  # the three 1-channel JPEGs


def test_calibration_accepts_the_grayscale_raccoon_jpegs(shared_data, tmp_path):
    folder = tmp_path / "calib"
    folder.mkdir()
    for name in GRAY:
        (folder / name).symlink_to(shared_data / "raccoon" / "images" / name)
    batch = load_calibration(folder, InputSpec(size_wh=(64, 64)), count=3, progress=False)
    assert len(batch) == 3 and all(x.shape == (1, 64, 64, 3) for x in batch)
    img = read_image_bgr(folder / GRAY[0])
    assert img.shape[2] == 3 and np.array_equal(img[..., 0], img[..., 2])


def test_bgra_png_becomes_bgr(tmp_path):
    bgra = np.zeros((20, 30, 4), np.uint8)
    bgra[..., 0], bgra[..., 3] = 200, 10
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    img = read_image_bgr(tmp_path / "a.png")
    assert img.shape == (20, 30, 3) and img[0, 0].tolist() == [200, 0, 0]


def test_exif_orientation_is_applied_the_same_everywhere(tmp_path):
    rgb = np.zeros((40, 80, 3), np.uint8)
    rgb[:, :40] = (255, 0, 0)  # left half red, as stored
    exif = Image.Exif()
    exif[274] = 6  # "rotate 90 CW to display"
    path = tmp_path / "rotated.jpg"
    Image.fromarray(rgb).save(path, exif=exif, quality=95)
    img = read_image_bgr(path)
    assert img.shape[:2] == (80, 40)  # displayed upright: portrait
    assert img[5, 20, 2] > 200 and img[75, 20, 2] < 50  # stored left half is now the top
    assert image_size_wh(path) == (40, 80)  # boxes are normalized to the same frame
    assert np.array_equal(read_bgr(path), img)
    src = ImageSource(path)
    src.open()
    assert np.array_equal(src.read(), img)


def test_truncated_jpeg_is_named_in_a_warning(tmp_path, caplog):
    path = tmp_path / "cut.jpg"
    cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 255, (256, 256, 3), np.uint8))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])  # header and most scans kept: still decodes
    with caplog.at_level(logging.WARNING, logger="edge.core.image_file"):
        img = read_image_bgr(path)
    assert img.shape == (256, 256, 3)
    assert f"{path}: truncated JPEG" in caplog.text

"""Box-preserving augmentation on letterboxed model-input images (numpy, per batch).

Images are (S, S, 3) uint8 RGB already letterboxed with ``edge.core.letterbox`` (so the
pad colour and geometry match the device); boxes are ``xyxy`` normalized to that input.
Every transform moves the boxes with the pixels; boxes cropped to under
``MIN_VISIBLE`` of their area are removed (the object is mostly out of view, so keeping it
would teach the model to fire on empty padding).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

MIN_VISIBLE = 0.35


@dataclass(frozen=True)
class AugmentConfig:
    hflip: float = 0.5
    scale: tuple[float, float] = (0.6, 1.4)  # zoom out/in factor of the scale/crop jitter
    translate: float = 0.15  # max shift, fraction of the input
    hsv: tuple[float, float, float] = (0.015, 0.5, 0.35)  # hue, saturation, value gains
    mosaic: float = 0.0  # probability a batch slot becomes a 2x2 mosaic of batch images (native scale)
    pad_value: int = 114


def closing(cfg: AugmentConfig) -> AugmentConfig:
    """The augmentation of the last epochs (YOLOX's no-aug epochs): no mosaic and no scale or
    translate jitter, so objects sit at the size and place the device shows them; flip and
    colour stay. On chess (7 CPU-minutes) the last 15 % of the epochs this way took val
    mAP@[.5:.95] from 0.406 to 0.432, the last 30 % from 0.560 to 0.585 (docs/benchmarks.md)."""
    return replace(cfg, mosaic=0.0, scale=(1.0, 1.0), translate=0.0)


def hflip(img: np.ndarray, xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out = xyxy.copy()
    out[:, [0, 2]] = 1.0 - xyxy[:, [2, 0]]
    return img[:, ::-1].copy(), out


def _keep_visible(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    clipped = np.clip(after, 0.0, 1.0)
    area0 = np.prod(np.clip(after[:, 2:] - after[:, :2], 0, None), axis=1)
    area1 = np.prod(np.clip(clipped[:, 2:] - clipped[:, :2], 0, None), axis=1)
    size_ok = np.min(clipped[:, 2:] - clipped[:, :2], axis=1) > 1e-3
    return (area1 >= MIN_VISIBLE * np.maximum(area0, 1e-12)) & size_ok


def scale_translate(img: np.ndarray, xyxy: np.ndarray, cls: np.ndarray, rng: np.random.Generator,
                    cfg: AugmentConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Zoom about the centre and shift; out-of-frame area is filled with the pad value."""
    h, w = img.shape[:2]
    s = rng.uniform(*cfg.scale)
    tx, ty = rng.uniform(-cfg.translate, cfg.translate, 2)
    if s == 1.0 and tx == ty == 0.0:  # the closing epochs: an identity warp is a copy for nothing
        out = img
    else:
        # model_px' = s * (px - c) + c + t
        m = np.array([[s, 0, (1 - s) * w / 2 + tx * w], [0, s, (1 - s) * h / 2 + ty * h]], np.float32)
        out = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                             borderValue=(cfg.pad_value,) * 3)
    b = xyxy * s + np.array([(1 - s) / 2 + tx, (1 - s) / 2 + ty] * 2, np.float32)
    keep = _keep_visible(xyxy, b)
    return out, np.clip(b[keep], 0.0, 1.0), cls[keep]


def colour(img: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """HSV gain jitter (YOLOv5 style) on an RGB image."""
    gains = rng.uniform(-1, 1, 3) * np.asarray(cfg.hsv) + 1
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
    lut = np.arange(256, dtype=np.float32)
    lut_h = ((lut * gains[0]) % 180).astype(np.uint8)
    lut_s = np.clip(lut * gains[1], 0, 255).astype(np.uint8)
    lut_v = np.clip(lut * gains[2], 0, 255).astype(np.uint8)
    hsv = cv2.merge((cv2.LUT(hsv[..., 0], lut_h), cv2.LUT(hsv[..., 1], lut_s), cv2.LUT(hsv[..., 2], lut_v)))
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def mosaic(imgs: list[np.ndarray], boxes: list[np.ndarray], classes: list[np.ndarray],
           rng: np.random.Generator, pad_value: int = 114) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """2x2 mosaic at native scale (YOLOv5/Ultralytics): the four images meet at a random point
    of a 2S x 2S canvas, and the S x S window at the canvas centre is kept.

    No image is resized, so objects keep the size the model sees at run time (an earlier
    version resized each whole image into its quarter and halved the objects; on chess it
    stood at 0.15 mAP@[.5:.95] at epoch 24 against 0.47 without mosaic). The window shows a
    part of each image; boxes cut to under ``MIN_VISIBLE`` of their area are dropped."""
    s = imgs[0].shape[0]
    xc, yc = (int(v) for v in rng.uniform(0.5 * s, 1.5 * s, 2))
    canvas = np.full((2 * s, 2 * s, 3), pad_value, np.uint8)
    # top-left corner of each image on the canvas: it touches (xc, yc) with its inner corner
    corners = [(xc - s, yc - s), (xc, yc - s), (xc - s, yc), (xc, yc)]
    all_b, all_c = [], []
    for img, b, c, (x0, y0) in zip(imgs, boxes, classes, corners):
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x0 + s, 2 * s), min(y0 + s, 2 * s)
        canvas[cy0:cy1, cx0:cx1] = img[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]
        all_b.append(b * s + np.array([x0, y0, x0, y0], np.float32))
        all_c.append(c)
    out = canvas[s // 2: s // 2 + s, s // 2: s // 2 + s].copy()
    if not all_b:
        return out, np.zeros((0, 4), np.float32), np.zeros(0, np.int32)
    b = (np.concatenate(all_b) - s // 2) / s  # canvas px -> the window, normalized
    c = np.concatenate(all_c)
    keep = _keep_visible(b, b)
    return out, np.clip(b[keep], 0.0, 1.0).astype(np.float32), c[keep]


def augment_batch(images: np.ndarray, boxes: list[np.ndarray], classes: list[np.ndarray],
                  rng: np.random.Generator, cfg: AugmentConfig
                  ) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """Augment a batch (B, S, S, 3) uint8; mosaic draws its other tiles from the same batch."""
    out_i, out_b, out_c = [], [], []
    n = len(images)
    for k in range(n):
        img, b, c = images[k], boxes[k].astype(np.float32), classes[k]
        if cfg.mosaic > 0 and n > 1 and rng.random() < cfg.mosaic:
            idx = [k, *rng.integers(0, n, 3)]
            img, b, c = mosaic([images[i] for i in idx], [boxes[i] for i in idx],
                               [classes[i] for i in idx], rng, cfg.pad_value)
        if rng.random() < cfg.hflip:
            img, b = hflip(img, b)
        img, b, c = scale_translate(img, b, c, rng, cfg)
        img = colour(img, rng, cfg)
        out_i.append(img)
        out_b.append(b)
        out_c.append(c)
    return np.stack(out_i), out_b, out_c

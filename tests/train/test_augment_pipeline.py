"""Augmentation moves boxes with pixels; the tf.data pipeline feeds device-letterboxed pixels."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.core.letterbox import letterbox
from edge.datasets import load_split
from train.augment import AugmentConfig, augment_batch
from train.data import make_dataset


def _extent(img: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(img[..., 0] == 255)
    s = img.shape[0]
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32) / s


def test_augmented_boxes_follow_the_object() -> None:
    s = 128
    img = np.full((s, s, 3), 114, np.uint8)
    box = np.array([[0.25, 0.3, 0.55, 0.7]], np.float32)
    x0, y0, x1, y1 = (box[0] * s).astype(int)
    img[y0:y1, x0:x1] = (255, 0, 0)
    cfg = AugmentConfig(hsv=(0, 0, 0), scale=(0.7, 1.3), translate=0.1)  # colour off: find the red
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(20):
        out, boxes, _ = augment_batch(img[None], [box], [np.array([0])], rng, cfg)
        if len(boxes[0]) == 0:
            continue
        np.testing.assert_allclose(boxes[0][0], _extent(out[0]), atol=2.5 / s)
        checked += 1
    assert checked >= 10


def test_closing_augmentation_keeps_objects_where_the_device_sees_them() -> None:
    """The last epochs (``closing``) drop mosaic and scale/translate jitter: the object keeps
    its size and place, mirrored at most; colour jitter stays."""
    from train.augment import closing

    s = 128
    img = np.full((s, s, 3), 114, np.uint8)
    box = np.array([[0.25, 0.3, 0.55, 0.7]], np.float32)
    x0, y0, x1, y1 = (box[0] * s).astype(int)
    img[y0:y1, x0:x1] = (255, 0, 0)
    cfg = closing(AugmentConfig(hsv=(0, 0, 0), scale=(0.5, 1.5), translate=0.3, mosaic=1.0))
    assert (cfg.mosaic, cfg.scale, cfg.translate, cfg.hflip) == (0.0, (1.0, 1.0), 0.0, 0.5)
    mirrored = np.array([1 - box[0, 2], box[0, 1], 1 - box[0, 0], box[0, 3]], np.float32)
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(12):
        out, boxes, _ = augment_batch(img[None], [box], [np.array([0])], rng, cfg)
        flipped = not np.allclose(boxes[0][0], box[0])
        np.testing.assert_allclose(boxes[0][0], mirrored if flipped else box[0], atol=1e-6)
        np.testing.assert_allclose(boxes[0][0], _extent(out[0]), atol=1.0 / s)
        seen.add(flipped)
    assert seen == {True, False}


def test_pipeline_images_are_device_letterboxed(synth_data: Path) -> None:
    ds = load_split(synth_data, "val")
    d = make_dataset(ds, 96, lambda b, c: (np.stack([np.float32(len(x)) for x in b]),), [()], 2,
                     training=False)
    x, (counts,) = next(iter(d))
    bgr = cv2.imread(str(ds.samples[0].image_path))
    ref, _ = letterbox(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (96, 96), 114)
    np.testing.assert_allclose(x.numpy()[0], ref.astype(np.float32) / 255.0, atol=1e-6)
    assert counts.numpy()[0] == len(ds.samples[0].xyxy)


def test_mosaic_keeps_native_scale_and_boxes_on_their_objects() -> None:
    """Each of the four images holds one rectangle of its own colour: in the mosaic, every kept
    box must frame exactly its colour's pixels, at the size it had (nothing is resized)."""
    from train.augment import mosaic

    s, colours = 128, [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]
    box = np.array([[0.3, 0.35, 0.6, 0.65]], np.float32)
    x0, y0, x1, y1 = (box[0] * s).astype(int)
    imgs = []
    for col in colours:
        img = np.full((s, s, 3), 114, np.uint8)
        img[y0:y1, x0:x1] = col
        imgs.append(img)
    rng = np.random.default_rng(0)
    kept = whole = 0
    for _ in range(30):
        out, boxes, cls = mosaic(imgs, [box] * 4, [np.array([k]) for k in range(4)], rng)
        assert out.shape == (s, s, 3)
        for b, k in zip(boxes, cls):
            mask = np.all(out == colours[k], axis=-1)
            ys, xs = np.nonzero(mask)
            got = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32) / s
            np.testing.assert_allclose(b, got, atol=1.5 / s)
            kept += 1
            if np.allclose(b[2:] - b[:2], box[0, 2:] - box[0, :2], atol=1.5 / s):
                whole += 1  # uncut: the object kept its size
    assert kept >= 30 and whole >= 10

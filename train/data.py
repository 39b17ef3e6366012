"""The tf.data input pipeline: decode -> letterbox -> cache -> shuffle -> batch -> augment +
encode targets -> prefetch.

Decoding and letterboxing call ``edge.core.model_input`` itself (through ``tf.numpy_function``)
so training sees exactly the pixels the device will feed the model. The cache holds
letterboxed uint8 images, so each epoch after the first only augments and encodes.
Augmentation randomness comes from ``tf.data.Dataset.random`` (seeded, new per epoch), so
a run is reproducible however the parallel map is scheduled.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf

from edge.core.image_file import read_image_bgr
from edge.core.model_input import InputLayout, encode_pixels, model_input
from edge.datasets.types import Dataset, Sample
from train.augment import AugmentConfig, augment_batch

Encoder = Callable[[list[np.ndarray], list[np.ndarray]], tuple[np.ndarray, ...]]


def load_letterboxed(sample: Sample, input_size: int, pad_value: int = 114
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RGB uint8 (S, S, 3) letterboxed image (raw pixels: the batch is normalized later);
    boxes mapped into it (normalized xyxy) and classes."""
    bgr = read_image_bgr(sample.image_path)
    layout = InputLayout((input_size, input_size), pad_value=pad_value, dtype="uint8", normalize=None)
    img, tf_ = model_input(bgr, layout)
    return img, tf_.to_model(sample.xyxy), sample.class_ids


def _pad(xyxy: np.ndarray, cls: np.ndarray, max_boxes: int) -> np.ndarray:
    out = np.full((max_boxes, 5), -1.0, np.float32)
    out[: len(xyxy), :4] = xyxy
    out[: len(xyxy), 4] = cls
    return out


def _unpad(padded: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    boxes, classes = [], []
    for p in padded:
        real = p[:, 4] >= 0
        boxes.append(p[real, :4].astype(np.float32))
        classes.append(p[real, 4].astype(np.int32))
    return boxes, classes


def make_dataset(
    ds: Dataset,
    input_size: int,
    encoder: Encoder,
    target_shapes: list[tuple[int, ...]],
    batch_size: int,
    training: bool,
    augment: AugmentConfig | Callable[[], AugmentConfig | None] | None = None,
    seed: int = 0,
    cache: bool | Path = True,
    pad_value: int = 114,
) -> tf.data.Dataset:
    """Batches of (images float32 [B, S, S, 3] in [0, 1] (RGB / 255, the model contract),
    targets tuple matching the model outputs; ``target_shapes`` are per-image shapes).

    ``augment`` may be a function returning the config: it is read for every batch, so a
    schedule can change it mid-run (mosaic off for the last epochs)."""
    if len(ds) == 0:
        raise ValueError(f"dataset split {ds.name!r} has no usable images")
    max_boxes = max(1, max(len(s.xyxy) for s in ds.samples))
    samples = ds.samples

    def load(i: np.int64) -> tuple[np.ndarray, np.ndarray]:
        img, xyxy, cls = load_letterboxed(samples[int(i)], input_size, pad_value)
        return img, _pad(xyxy, cls, max_boxes)

    d = tf.data.Dataset.range(len(samples))
    d = d.map(lambda i: tf.numpy_function(load, [i], [tf.uint8, tf.float32], stateful=False),
              num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    d = d.map(lambda im, b: (tf.ensure_shape(im, (input_size, input_size, 3)),
                             tf.ensure_shape(b, (max_boxes, 5))))
    if cache:
        d = d.cache(str(cache) if isinstance(cache, Path) else "")
    if training:
        d = d.shuffle(len(samples), seed=seed, reshuffle_each_iteration=True)
    d = d.batch(batch_size, drop_remainder=training)
    aug = augment if training else None

    def prepare(images: np.ndarray, padded: np.ndarray, rng_seed: np.int64) -> tuple[np.ndarray, ...]:
        boxes, classes = _unpad(padded)
        cur = aug() if callable(aug) else aug
        if cur is not None:
            rng = np.random.default_rng(np.uint64(rng_seed))
            images, boxes, classes = augment_batch(images, boxes, classes, rng, cur)
        return (encode_pixels(images, float_layout), *encoder(boxes, classes))

    # the float model's input, normalized as the contract says (edge.core.model_input)
    float_layout = InputLayout((input_size, input_size), pad_value=pad_value, dtype="float32")
    n_out = len(target_shapes)
    rand = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    d = tf.data.Dataset.zip((d, rand))

    def to_tensors(batch: tuple, r: tf.Tensor) -> tuple:
        images, padded = batch
        outs = tf.numpy_function(prepare, [images, padded, r], [tf.float32] * (1 + n_out), stateful=False)
        x = tf.ensure_shape(outs[0], (None, input_size, input_size, 3))
        ys = tuple(tf.ensure_shape(y, (None, *shape)) for y, shape in zip(outs[1:], target_shapes))
        return x, ys

    d = d.map(to_tensors, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return d.prefetch(tf.data.AUTOTUNE)

"""Tiny-YOLO (YOLOv3-tiny layout, two scales) with sigmoid outputs for ``edge.core.yolo_grid``.

Outputs ``grid_s16`` [B, S/16, S/16, A*(5+C)] and ``grid_s32`` (ascending stride, as the
model contract requires); with ``strides=(8, 16, 32)`` also ``grid_s8`` first, fed by a second
upsample of the stride-16 features joined with the stride-8 backbone layer (YOLOv3-tiny-3l):
small objects get a finer grid to place their boxes on. ReLU6 instead of leaky ReLU and a
transposed-conv upsample keep every op on the Edge TPU and int8-friendly.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from keras import layers

from train.models.backbone import BN_MOMENTUM, check_scratch_model, load_local_weights, scaled_channels
from train.models.backbone import conv_bn_relu6 as _cbr

STRIDES = (16, 32)
STRIDES_3L = (8, 16, 32)
STRIDES_FINE = (8, 16)  # no stride-32 head: for data whose objects are all small
ALLOWED_STRIDES = (STRIDES, STRIDES_3L, STRIDES_FINE)
PRIOR_OBJ = 0.01
NECK16 = ("full", "bottleneck")


def _head(x, anchors: int, num_classes: int, name: str):
    """Per anchor [x, y, w, h, obj, classes...], sigmoid, as ``edge.core.yolo_grid`` reads it.

    Boxes and scores come from two 1x1 convs, joined only after their sigmoids: in int8 a
    tensor has one scale, and the score logits span ~20 units (obj of empty cells sits near
    -10) while box logits span a few; one shared scale made each box-logit step ~2.5x coarser,
    the largest int8 error in the model (bench/int8_where.py). After the sigmoids both are
    in [0, 1] and the concatenation is exact. Reshapes stay 4-D for the Edge TPU."""
    g = x.shape[1]
    bias = np.zeros((anchors, 1 + num_classes), np.float32)
    bias[:, 0] = np.log(PRIOR_OBJ / (1 - PRIOR_OBJ))
    box = layers.Conv2D(anchors * 4, 1, name=f"{name}_box")(x)
    score = layers.Conv2D(anchors * (1 + num_classes), 1, name=f"{name}_score",
                          bias_initializer=keras.initializers.Constant(bias.reshape(-1)))(x)
    box = layers.Activation("sigmoid", name=f"{name}_box_sigmoid")(box)
    score = layers.Activation("sigmoid", name=f"{name}_score_sigmoid")(score)
    box = layers.Reshape((g * g, anchors, 4), name=f"{name}_box_cells")(box)
    score = layers.Reshape((g * g, anchors, 1 + num_classes), name=f"{name}_score_cells")(score)
    y = layers.Concatenate(axis=-1, name=f"{name}_join")([box, score])
    return layers.Reshape((g, g, anchors * (5 + num_classes)), name=name)(y)


def _up(x, filters: int, name: str):
    """1x1 conv then a learned 2x upsampling (TRANSPOSE_CONV): Keras 3 UpSampling2D lowers to
    TILE and Resizing leaves resource-variable ops in the export; neither maps to the Edge TPU."""
    x = _cbr(x, filters, 1, f"{name}_pw")
    x = layers.Conv2DTranspose(filters, 2, 2, use_bias=False, name=f"{name}_tconv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu6")(x)


def build_tiny_yolo(
    input_size: int,
    num_classes: int,
    anchors_per_scale: int = 3,
    width: float = 1.0,
    weights: str | Path | None = None,
    strides: tuple[int, ...] = STRIDES,
    strided: int = 3,
    neck16: str = "full",
) -> keras.Model:
    """Build the model; ``width`` scales every layer's channels; ``strides`` is one of
    ``ALLOWED_STRIDES``. The first ``strided`` (0-4) of the four backbone downsamplings are stride-2
    convolutions (YOLOv5/v8 style), the rest conv + max-pool (YOLOv3-tiny): a conv at full
    resolution followed by a pool costs 4x the FLOPs of the strided conv and, with few
    channels, is memory-bound; on a 2-core CPU the three strided ones make a training step
    ~2.5x faster (docs/benchmarks.md). ``neck16`` is the stride-16 head's conv over the merged
    features: ``full`` (YOLOv3-tiny's 3x3 at 256 x width) or ``bottleneck`` (a 1x1 to half of
    that first, as YOLOv5's C3 blocks narrow before their 3x3)."""
    if not 0 <= strided <= 4:
        raise ValueError(f"tiny-YOLO strided must be 0..4, got {strided}")
    if neck16 not in NECK16:
        raise ValueError(f"tiny-YOLO neck16 must be one of {NECK16}, got {neck16!r}")
    if strided == 4 and 8 in strides:
        raise ValueError("tiny-YOLO with a stride-8 head needs strided <= 3 (it taps the stride-8 conv)")
    strides = tuple(strides)
    if strides not in ALLOWED_STRIDES:
        raise ValueError(f"tiny-YOLO strides must be one of {ALLOWED_STRIDES}, got {strides}")
    w = check_scratch_model("tiny-YOLO", input_size, weights)

    def c(n: int) -> int:
        return scaled_channels(n, width)

    inp = keras.Input((input_size, input_size, 3), name="image")
    x = inp
    for i, f in enumerate((16, 32, 64, 128)):
        if i < strided:
            x = _cbr(x, c(f), 3, f"b{i}", stride=2)
            continue
        x = _cbr(x, c(f), 3, f"b{i}")
        if i == 3:
            route8 = x  # stride 8
        x = layers.MaxPooling2D(2, 2, name=f"b{i}_pool")(x)
    route = _cbr(x, c(256), 3, "b4")  # stride 16
    x = layers.MaxPooling2D(2, 2, name="b4_pool")(route)
    x = _cbr(x, c(512), 3, "b5")  # stride 32
    x = _cbr(x, c(256), 1, "neck32")
    p16 = layers.Concatenate(name="merge16")([_up(x, c(128), "up"), route])
    if neck16 == "bottleneck":
        p16 = _cbr(p16, c(128), 1, "p16_reduce")
    p16 = _cbr(p16, c(256), 3, "p16")
    outs = [_head(p16, anchors_per_scale, num_classes, "grid_s16")]
    if 32 in strides:
        p32 = _cbr(x, c(512), 3, "p32")
        outs.append(_head(p32, anchors_per_scale, num_classes, "grid_s32"))
    if 8 in strides:
        p8 = layers.Concatenate(name="merge8")([_up(p16, c(64), "up8"), route8])
        p8 = _cbr(p8, c(128), 3, "p8")
        outs.insert(0, _head(p8, anchors_per_scale, num_classes, "grid_s8"))
    model = keras.Model(inp, outs, name="tiny_yolo")
    if w is not None:
        load_local_weights(model, w)
    return model

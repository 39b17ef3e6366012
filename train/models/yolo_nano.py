"""Anchor-free nano YOLO: strides 8/16/32, PAN neck, decoupled heads, one bounded output.

Backbone: stride-2 3x3 convs with C2f-style blocks (split, residual bottlenecks, concat)
and an SPPF at stride 32. Neck: top-down then bottom-up (PAN), as YOLOv8. Heads: per
stride a box branch and a class branch (decoupled: localisation and classification do not
share the last features). Every head ends in a sigmoid and all of them are concatenated into
``preds`` [B, N, 4+C] (``edge.core.yolo_ltrb``): one int8 scale fits all of it.

Edge TPU-mappable ops only: conv, batch norm (folded), ReLU6, add, concatenation, max
pool, transposed conv (for 2x upsampling; Keras 3 UpSampling2D lowers to TILE), reshape,
sigmoid.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from keras import layers

from train.models.backbone import BN_MOMENTUM, check_scratch_model, load_local_weights, scaled_channels
from train.models.backbone import conv_bn_relu6 as _cbr

STRIDES = (8, 16, 32)
LTRB_RANGE = 16.0  # an output of 1.0 reaches 16 strides from the point (YOLOv8's reg_max)
PRIOR_CLS = 0.01
PRIOR_DIST = 2.0  # initial edge distance, in strides: boxes start ~4 cells wide


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def _c2f(x, filters: int, n: int, name: str, shortcut: bool = True):
    """C2f (YOLOv8): two 1x1 halves (two convs instead of a split), n 3x3 bottlenecks on the
    second, every intermediate concatenated, 1x1 out."""
    h = max(8, filters // 2)
    a = _cbr(x, h, 1, f"{name}_cv1a")
    z = _cbr(x, h, 1, f"{name}_cv1b")
    parts = [a, z]
    for i in range(n):
        b = _cbr(z, h, 3, f"{name}_m{i}a")
        b = _cbr(b, h, 3, f"{name}_m{i}b")
        z = layers.Add(name=f"{name}_m{i}add")([z, b]) if shortcut else b
        parts.append(z)
    return _cbr(layers.Concatenate(name=f"{name}_cat")(parts), filters, 1, f"{name}_cv2")


def _sppf(x, filters: int, name: str):
    y = _cbr(x, filters // 2, 1, f"{name}_cv1")
    pools = [y]
    for i in range(3):
        pools.append(layers.MaxPooling2D(5, 1, padding="same", name=f"{name}_pool{i}")(pools[-1]))
    return _cbr(layers.Concatenate(name=f"{name}_cat")(pools), filters, 1, f"{name}_cv2")


def _up(x, filters: int, name: str):
    x = layers.Conv2DTranspose(filters, 2, 2, use_bias=False, name=f"{name}_tconv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu6")(x)


def _branch(x, filters: int, outputs: int, prior: float, name: str):
    y = _cbr(x, filters, 3, f"{name}_a")
    y = _cbr(y, filters, 3, f"{name}_b")
    y = layers.Conv2D(outputs, 1, name=f"{name}_pred",
                      bias_initializer=keras.initializers.Constant(_logit(prior)))(y)
    y = layers.Activation("sigmoid", name=f"{name}_sigmoid")(y)
    return layers.Reshape((-1, outputs), name=f"{name}_flat")(y)


def build_yolo_nano(
    input_size: int,
    num_classes: int,
    width: float = 1.0,
    weights: str | Path | None = None,
    depth: int = 1,
) -> keras.Model:
    """Build the model: ``width`` scales every layer's channels, ``depth`` the bottlenecks."""
    w = check_scratch_model("yolo-nano", input_size, weights)

    def c(n: int) -> int:
        return scaled_channels(n, width)

    inp = keras.Input((input_size, input_size, 3), name="image")
    x = _cbr(inp, c(16), 3, "stem", 2)  # /2
    x = _cbr(x, c(32), 3, "d4", 2)  # /4
    x = _c2f(x, c(32), depth, "b4")
    x = _cbr(x, c(64), 3, "d8", 2)  # /8
    c3 = _c2f(x, c(64), 2 * depth, "b8")
    x = _cbr(c3, c(128), 3, "d16", 2)  # /16
    c4 = _c2f(x, c(128), 2 * depth, "b16")
    x = _cbr(c4, c(256), 3, "d32", 2)  # /32
    x = _c2f(x, c(256), depth, "b32")
    c5 = _sppf(x, c(256), "sppf")
    # PAN: top-down
    t4 = _c2f(layers.Concatenate(name="td16_in")([_up(c5, c(128), "td16_up"), c4]), c(128), depth, "td16",
              shortcut=False)
    p3 = _c2f(layers.Concatenate(name="td8_in")([_up(t4, c(64), "td8_up"), c3]), c(64), depth, "td8",
              shortcut=False)
    # bottom-up
    p4 = _c2f(layers.Concatenate(name="bu16_in")([_cbr(p3, c(64), 3, "bu16_down", 2), t4]), c(128), depth,
              "bu16", shortcut=False)
    p5 = _c2f(layers.Concatenate(name="bu32_in")([_cbr(p4, c(128), 3, "bu32_down", 2), c5]), c(256), depth,
              "bu32", shortcut=False)
    box_ch = c(64)
    cls_ch = max(c(64), min(num_classes, 100) // 8 * 8 or 8)
    boxes, scores = [], []
    for s, feat in zip(STRIDES, (p3, p4, p5)):
        boxes.append(_branch(feat, box_ch, 4, PRIOR_DIST / LTRB_RANGE, f"box_s{s}"))
        scores.append(_branch(feat, cls_ch, num_classes, PRIOR_CLS, f"cls_s{s}"))
    box = layers.Concatenate(axis=1, name="boxes_all")(boxes)
    cls = layers.Concatenate(axis=1, name="scores_all")(scores)
    out = layers.Concatenate(axis=-1, name="preds")([box, cls])
    model = keras.Model(inp, out, name="yolo_nano")
    if w is not None:
        load_local_weights(model, w)
    return model

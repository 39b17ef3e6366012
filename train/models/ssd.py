"""MobileNetV2 + SSDLite heads, laid out for ``TFLite_Detection_PostProcess`` and our
``edge.decoders.ssd``: outputs ``boxes`` [B, A, 4] (ty, tx, th, tw) and ``scores``
[B, A, C+1] (sigmoid; column 0 background), anchors ordered (layer, y, x, box) as
``edge.core.anchors.ssd_anchors`` generates them.

From scratch the backbone's stem is fused and an FPNLite neck feeds the heads
(``train.models.backbone.mobilenet_v2_features``, ``_fpn``; docs/training.md). Heavier heads
(``head_layers``, ``decoupled``, ``fpn_depth``) are options.

Only Edge TPU-mappable ops: static shapes, conv / depthwise conv / transposed conv, batch norm
(folded), ReLU6, add, reshape, concatenation, sigmoid.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
from keras import layers

from edge.core.anchors import SsdAnchorSpec
from train.models.backbone import (
    BN_MOMENTUM,
    check_weights,
    conv_bn_relu6,
    mobilenet_v2_features,
    scaled_channels,
)

# feature maps taken from MobileNetV2 by stride: the expansions before the stride-2 depthwise
# convs of blocks 6 and 13 (strides 8, 16) and the output (32)
BACKBONE_TAPS = {8: "block_6_expand_relu", 16: "block_13_expand_relu", 32: "out_relu"}
MIN_STRIDES = (8, 16)
NECKS = ("none", "fpn")
FPN_DEPTH = 128  # channels of the FPN levels at width 1 (TF OD API's FPNLite), scaled by width


def feature_map_sizes(input_size: int, min_stride: int = 16,
                      extra_layers: int = 2) -> tuple[tuple[int, int], ...]:
    """Grid sizes (h, w) of the prediction layers ``build_ssd`` makes, finest first, without
    building it (anchor fitting compares layouts before the model exists)."""
    if min_stride not in MIN_STRIDES:
        raise ValueError(f"SSD min_stride must be one of {MIN_STRIDES}, got {min_stride}")
    sizes = [input_size // st for st in sorted(BACKBONE_TAPS) if st >= min_stride]
    for _ in range(extra_layers):
        sizes.append((sizes[-1] + 1) // 2)  # stride-2 'same' conv rounds up
    return tuple((g, g) for g in sizes)
PRIOR = 0.01  # initial foreground probability: stable focal loss start (RetinaNet)


def _sep(x, name: str, stride: int = 1):
    """Depthwise 3x3 + BN + ReLU6, then pointwise (SSDLite)."""
    x = layers.DepthwiseConv2D(3, stride, padding="same", use_bias=False, name=f"{name}_dw")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_dw_bn")(x)
    x = layers.ReLU(6.0, name=f"{name}_dw_relu6")(x)
    return x


def _tower(x, layers_before: int, name: str):
    """A head's trunk: ``layers_before`` SSDLite layers (depthwise 3x3, then 1x1 to the level's
    depth, at most 256), then the predictor's depthwise 3x3."""
    depth = min(int(x.shape[-1]), 256)
    for j in range(layers_before):
        x = _sep(x, f"{name}_t{j}")
        x = conv_bn_relu6(x, depth, 1, f"{name}_t{j}_pw")
    return _sep(x, name)


def _fpn(feats: list, depth: int) -> list:
    """FPNLite top-down path over the backbone taps (finest first): each level is
    ReLU6(BN(1x1 lateral) + 2x upsampled coarser level), so the stride-8 and -16 heads see the
    stride-32 semantics as well as their own detail. The upsampling is a learned 2x2 stride-2
    transposed conv (as tiny-YOLO's): Keras 3's UpSampling2D lowers to TILE, which the Edge TPU
    does not map. The head's depthwise 3x3 smooths each merged level."""
    def lateral(f, i):
        return conv_bn_relu6(f, depth, 1, f"fpn{i}_lat", act=False)

    top = layers.ReLU(6.0, name=f"fpn{len(feats) - 1}_relu6")(lateral(feats[-1], len(feats) - 1))
    out = [top]
    for i in range(len(feats) - 2, -1, -1):
        up = layers.Conv2DTranspose(depth, 2, 2, use_bias=False, name=f"fpn{i}_up")(top)
        up = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"fpn{i}_up_bn")(up)
        top = layers.Add(name=f"fpn{i}_add")([lateral(feats[i], i), up])
        top = layers.ReLU(6.0, name=f"fpn{i}_relu6")(top)
        out.insert(0, top)
    return out


def build_ssd(
    input_size: int,
    num_classes: int,
    anchor_spec: SsdAnchorSpec | None = None,
    alpha: float = 1.0,
    weights: str | Path | None = None,
    extra_layers: int = 2,
    min_stride: int = 16,
    neck: str = "fpn",
    stem: str | None = None,
    fpn_depth: int | None = None,
    head_layers: int = 0,
    decoupled: bool = False,
) -> tuple[keras.Model, SsdAnchorSpec]:
    """Build the model; returns it and the anchor spec with the real feature-map sizes.

    anchor_spec: scales/aspects (its ``feature_map_sizes_hw`` is replaced by the model's).
    min_stride: finest prediction layer, 16 (classic SSDLite) or 8 (adds a 40x40 layer at
        320 px for small objects; ~4x the anchors).
    neck: ``none`` (classic SSDLite: heads on the backbone taps) or ``fpn`` (FPNLite top-down
        path over the taps; the extra layers stay as they are).
    stem: ``mbv2`` or ``fused`` (``train.models.backbone.mobilenet_v2_features``); None: the
        published ``mbv2`` when ``weights`` are given (all of them load), else ``fused``
        (~2x faster training steps from scratch on a CPU).
    fpn_depth: channels of the FPN levels; None: ``FPN_DEPTH`` scaled by ``alpha``.
    head_layers: SSDLite layers (depthwise 3x3, then 1x1 to the level's depth, BN, ReLU6) each
        head runs before its predictor's depthwise 3x3; 0: the classic SSDLite head.
    decoupled: boxes and scores each get their own tower (YOLOX's decoupled head); else
        both 1x1 predictors read one (the classic SSDLite).
    """
    if neck not in NECKS:
        raise ValueError(f"SSD neck must be one of {NECKS}, got {neck!r}")
    if not 96 <= input_size <= 640 or input_size % 32:
        raise ValueError(f"SSD input must be a multiple of 32 in 96..640 (224..416 typical), "
                         f"got {input_size}")
    feature_map_sizes(input_size, min_stride, extra_layers)  # validates min_stride
    inp = keras.Input((input_size, input_size, 3), name="image")
    x = layers.Rescaling(2.0, offset=-1.0, name="to_pm1")(inp)  # contract [0,1] -> MobileNetV2 [-1,1]
    if stem is None:
        stem = "mbv2" if check_weights(weights) is not None else "fused"
    taps = [BACKBONE_TAPS[st] for st in sorted(BACKBONE_TAPS) if st >= min_stride]
    fmodel = mobilenet_v2_features(input_size, alpha, weights, taps, stem)
    feats = list(fmodel(x))
    y = feats[-1]
    if neck == "fpn":
        feats = _fpn(feats, fpn_depth or scaled_channels(FPN_DEPTH, alpha))
    for i in range(extra_layers):
        y = conv_bn_relu6(y, 128 if i else 256, 1, f"extra{i}_pw")
        y = _sep(y, f"extra{i}", stride=2)
        y = conv_bn_relu6(y, 256, 1, f"extra{i}_out")
        feats.append(y)
    sizes = tuple((int(f.shape[1]), int(f.shape[2])) for f in feats)
    spec = replace(anchor_spec or SsdAnchorSpec(sizes), feature_map_sizes_hw=sizes)
    per_loc = spec.boxes_per_location()
    prior_bias = float(np.log(PRIOR / (1 - PRIOR)))
    boxes, scores = [], []
    for i, (f, a) in enumerate(zip(feats, per_loc)):
        hb = _tower(f, head_layers, f"head{i}")
        hs = _tower(f, head_layers, f"head{i}_cls") if decoupled else hb
        b = layers.Conv2D(a * 4, 1, name=f"head{i}_boxes")(hb)
        bias = np.full(a * (num_classes + 1), prior_bias, np.float32)
        bias[:: num_classes + 1] = -prior_bias  # background column starts likely
        s = layers.Conv2D(a * (num_classes + 1), 1, name=f"head{i}_scores",
                          bias_initializer=keras.initializers.Constant(bias))(hs)
        gh, gw = sizes[i]
        boxes.append(layers.Reshape((gh * gw * a, 4), name=f"head{i}_boxes_flat")(b))
        scores.append(layers.Reshape((gh * gw * a, num_classes + 1), name=f"head{i}_scores_flat")(s))
    box_out = layers.Concatenate(axis=1, name="boxes")(boxes)
    score_out = layers.Activation("sigmoid", name="scores")(layers.Concatenate(axis=1, name="logits")(scores))
    return keras.Model(inp, [box_out, score_out], name="ssd_mobilenetv2"), spec

"""Backbone weights: ``none`` (default, offline), ``imagenet`` (Keras download, opt-in) or a
local ``.h5`` / ``.weights.h5`` file loaded by layer name."""

from __future__ import annotations

from pathlib import Path

import keras

WEIGHTS_HELP = "'none' (default), 'imagenet' (downloads; needs internet) or a path to a local .h5"

# BatchNormalization momentum for models trained here. keras.applications.MobileNetV2
# hard-codes 0.999 and Keras' default is 0.99; both are tuned for long runs from pretrained
# statistics. The moving variance starts at 1.0 and keeps momentum**n of it after n steps,
# while the true variance after a from-scratch depthwise conv is ~0.005: with 0.99 and 300
# steps the moving variance is still ~10x too large, every depthwise BN shrinks its output
# ~3x at inference, and after 17 blocks the heads see ~0 and score the prior everywhere.
# Training loss (batch statistics) falls normally, which hides it. 0.9 (PyTorch's default
# momentum 0.1) forgets the initial value within ~50 steps.
BN_MOMENTUM = 0.9


def check_weights(weights: str | Path | None) -> str | Path | None:
    if weights is None or str(weights).lower() == "none":
        return None
    if str(weights) == "imagenet":
        return "imagenet"
    p = Path(weights)
    if not p.is_file():
        raise FileNotFoundError(f"backbone weights {p} not found; expected {WEIGHTS_HELP}")
    return p


def load_local_weights(model: keras.Model, path: Path) -> None:
    """Load a local weights file into ``model``; layers are matched by name."""
    try:
        model.load_weights(str(path), skip_mismatch=True)
    except (ValueError, OSError) as e:
        raise ValueError(f"backbone weights {path}: cannot load into {model.name}: {e}") from e


def set_bn_momentum(model: keras.Model, momentum: float = BN_MOMENTUM) -> int:
    """Set ``momentum`` on every BatchNormalization layer of ``model`` (nested models too);
    returns how many layers were changed. Call before compiling/tracing."""
    n = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            n += set_bn_momentum(layer, momentum)
        elif isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = momentum  # read at call/trace time and saved by get_config
            n += 1
    return n


def mobilenet_v2(input_size: int, alpha: float, weights: str | Path | None,
                 bn_momentum: float = BN_MOMENTUM) -> keras.Model:
    """MobileNetV2 without top (inputs in [-1, 1]; the caller rescales the contract's [0, 1]).

    ``bn_momentum`` replaces Keras' 0.999 (see ``BN_MOMENTUM``)."""
    w = check_weights(weights)
    base = keras.applications.MobileNetV2(
        input_shape=(input_size, input_size, 3), alpha=alpha, include_top=False,
        weights="imagenet" if w == "imagenet" else None)
    if isinstance(w, Path):
        load_local_weights(base, w)
    set_bn_momentum(base, bn_momentum)
    return base


def check_scratch_model(arch: str, input_size: int, weights: str | Path | None) -> str | Path | None:
    """Input size and weights of our from-scratch models (no ImageNet backbone exists for them)."""
    if not 96 <= input_size <= 640 or input_size % 32:
        raise ValueError(f"{arch} input must be a multiple of 32 in 96..640, got {input_size}")
    w = check_weights(weights)
    if w == "imagenet":
        raise ValueError(f"{arch} has no ImageNet backbone; use weights 'none' or a local .h5")
    return w


def scaled_channels(n: int, width: float) -> int:
    """``n`` channels times ``width``, rounded to a multiple of 8 (int8 kernels like it), >= 8."""
    return max(8, int(round(n * width / 8)) * 8)


STEMS = ("mbv2", "fused")
# first MobileNetV2 layer the fused stem hands over to (its input is the stride-4 bottleneck)
FUSED_STEM_HANDOVER = "block_3_expand"


def conv_bn_relu6(x, filters: int, kernel: int, name: str, stride: int = 1, act: bool = True):
    """Conv (no bias) + BatchNorm (``BN_MOMENTUM``) + ReLU6 (left out with ``act=False``: a linear
    bottleneck); layers ``{name}_conv``, ``{name}_bn``, ``{name}_relu6``."""
    x = keras.layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return keras.layers.ReLU(6.0, name=f"{name}_relu6")(x) if act else x


def _fused_stem(x, c0: int, c2: int):
    """Stride-4 stem of regular 3x3 convs in place of MobileNetV2's Conv1 and blocks 0-2
    (Fused-MBConv, as EfficientNetV2 and MobileDets use early on). Those blocks run 1x1 and
    depthwise convs on 160x160 and 80x80 maps with few channels: memory-bound, and on a 2-core
    CPU they took 62-71 % of the backbone's training step (docs/benchmarks.md). Output: the
    ``c2`` channels of block 2's bottleneck, linear, as block 3 expects; ``c0`` is Conv1's."""
    x = conv_bn_relu6(x, c0, 3, "stem0", stride=2)  # as Conv1
    x = conv_bn_relu6(x, 2 * c2, 3, "stem1", stride=2)  # fused blocks 0-1: stride 4
    x = conv_bn_relu6(x, c2, 1, "stem1_project", act=False)
    y = conv_bn_relu6(x, 4 * c2, 3, "stem2")  # fused block 2, residual
    y = conv_bn_relu6(y, c2, 1, "stem2_project", act=False)
    return keras.layers.Add(name="stem2_add")([x, y])


def mobilenet_v2_features(input_size: int, alpha: float, weights: str | Path | None,
                          taps: list[str], stem: str = "mbv2") -> keras.Model:
    """MobileNetV2 feature extractor: input in [-1, 1], outputs the named layers ``taps``.

    ``stem``: ``mbv2`` (the published layout; ImageNet weights load into all of it) or
    ``fused`` (``_fused_stem`` replaces Conv1 and blocks 0-2; block 3 on is MobileNetV2's,
    and a weights file loads there by layer name)."""
    if stem not in STEMS:
        raise ValueError(f"MobileNetV2 stem must be one of {STEMS}, got {stem!r}")
    base = mobilenet_v2(input_size, alpha, weights)
    if stem == "mbv2":
        return keras.Model(base.input, [base.get_layer(n).output for n in taps], name="backbone")
    tail = keras.Model(base.get_layer(FUSED_STEM_HANDOVER).input,
                       [base.get_layer(n).output for n in taps], name="mobilenet_v2_from_block_3")
    inp = keras.Input((input_size, input_size, 3), name="image_pm1")
    c0, c2 = base.get_layer("Conv1").filters, tail.input.shape[-1]  # as Keras rounded them for alpha
    return keras.Model(inp, tail(_fused_stem(inp, c0, c2)), name="backbone")

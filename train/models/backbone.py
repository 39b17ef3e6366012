"""Backbone weights: ``none`` (default, offline), ``imagenet`` (Keras download, opt-in) or a
local ``.h5`` / ``.weights.h5`` file loaded by layer name."""

from __future__ import annotations

from pathlib import Path

import keras

WEIGHTS_HELP = "'none' (default), 'imagenet' (downloads; needs internet) or a path to a local .h5"


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


def mobilenet_v2(input_size: int, alpha: float, weights: str | Path | None) -> keras.Model:
    """MobileNetV2 without top, taking [0, 1] RGB (the model contract) and rescaling to [-1, 1]."""
    w = check_weights(weights)
    base = keras.applications.MobileNetV2(
        input_shape=(input_size, input_size, 3), alpha=alpha, include_top=False,
        weights="imagenet" if w == "imagenet" else None)
    if isinstance(w, Path):
        load_local_weights(base, w)
    return base

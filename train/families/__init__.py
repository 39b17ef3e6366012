"""Model families: one module each, found by name.

A family declares everything training and conversion need to know about one architecture
(``train.families.base.ModelFamily``): how it fits anchors to a dataset, builds the Keras
model, encodes targets, which losses train it, the model contract it writes, and how
conversion checks its outputs. ``train.fit`` and ``edge train --model`` only talk to this
registry, so a new architecture is one new module plus, if its outputs are new, a decoder.

Built-in families are imported lazily (listing them must not import TensorFlow); a family
from elsewhere is registered with ``register`` or named as ``package.module:ATTRIBUTE``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from train.families.base import ModelFamily

# name -> "module:attribute"; the first is the default of ``edge train``: the family with the
# best validation mAP in a 25-minute CPU budget on chess (docs/benchmarks.md)
_BUILTIN: dict[str, str] = {
    "tiny-yolo": "train.families.tiny_yolo:FAMILY",
    "tiny-yolo-3l": "train.families.tiny_yolo:FAMILY_3L",
    "yolo-nano": "train.families.yolo_nano:FAMILY",
    "ssd": "train.families.ssd:FAMILY",
}
_REGISTERED: dict[str, ModelFamily] = {}
DEFAULT_FAMILY = next(iter(_BUILTIN))


def names() -> list[str]:
    """Every registered family name, built-ins first."""
    return [*_BUILTIN, *(n for n in _REGISTERED if n not in _BUILTIN)]


def register(family: ModelFamily) -> ModelFamily:
    """Make ``family`` available as ``--model family.name`` (replaces one of the same name)."""
    if not getattr(family, "name", ""):
        raise ValueError(f"a model family needs a non-empty .name, got {family!r}")
    _REGISTERED[family.name] = family
    return family


def _import(ref: str) -> ModelFamily:
    mod, _, attr = ref.partition(":")
    try:
        obj = getattr(importlib.import_module(mod), attr or "FAMILY")
    except (ImportError, AttributeError) as e:
        raise ValueError(f"model family {ref!r} cannot be imported: {e}") from e
    return obj


def get(name: str) -> ModelFamily:
    """The family called ``name``, or one imported from ``package.module:ATTRIBUTE``."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name in _BUILTIN:
        return register(_import(_BUILTIN[name]))
    if ":" in name:
        return register(_import(name))
    raise ValueError(f"model must be one of {names()} (or package.module:FAMILY), got {name!r}")

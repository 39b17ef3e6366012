"""The small interface every model runner implements: a signature and ``invoke``.

``Detector`` runs any ``Backend`` (TFLite on the device, Keras in training), and decoders
are built from the ``Signature`` alone, so they never call back into a runner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from edge.core.tflite_file import TfliteFile


@dataclass(frozen=True)
class TensorSpec:
    """One input or output: name, shape (batch axis first, 1 for a dynamic batch), dtype
    and affine quantization (scale 0: not quantized). ``index`` is the runner's own id."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    scale: float = 0.0
    zero_point: int = 0

    @property
    def quantized(self) -> bool:
        return self.scale != 0.0 and np.issubdtype(self.dtype, np.integer)


@dataclass(frozen=True)
class Signature:
    """What a runner takes and returns, in ``invoke``'s output order.

    aliases: further names of outputs (e.g. TFLite signature-def keys) -> output position.
    graph: the parsed ``.tflite`` when there is one (decoders read fused-op settings and
    anchors from it), else None. source: what to name in messages (a path).
    max_batch: the largest batch ``invoke`` takes; None: any.
    """

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    aliases: dict[str, int] = field(default_factory=dict)
    graph: TfliteFile | None = None
    source: str = "model"
    max_batch: int | None = 1

    @property
    def input(self) -> TensorSpec:
        return self.inputs[0]

    @property
    def input_wh(self) -> tuple[int, int]:
        """Image input (width, height); the input is (B, H, W, C)."""
        return (self.input.shape[2], self.input.shape[1])

    @property
    def output_shapes(self) -> list[tuple[int, ...]]:
        return [s.shape for s in self.outputs]

    def positions(self) -> dict[str, int]:
        """Output name (tensor name and any alias) -> position in ``invoke``'s result."""
        pos = {s.name: i for i, s in enumerate(self.outputs)}
        for key, i in self.aliases.items():
            pos.setdefault(key, i)
        return pos

    def describe_outputs(self) -> list[str]:
        return [f"{s.name} {list(s.shape)} {np.dtype(s.dtype).name}" for s in self.outputs]


class Backend(Protocol):
    """A loaded model. ``invoke`` takes a batch (B, H, W, C) already in the input's dtype
    and quantization (``edge.core.model_input`` makes it; a (H, W, C) tensor is a batch of
    one) and returns float32 outputs in ``signature.outputs`` order, batch axis kept,
    dequantized. A runner may accept only B == 1 (TFLite)."""

    signature: Signature

    def invoke(self, batch: np.ndarray) -> list[np.ndarray]: ...


def dequantize(spec: TensorSpec, arr: np.ndarray) -> np.ndarray:
    """Stored tensor -> float32 real values."""
    if spec.quantized:
        return (arr.astype(np.float32) - spec.zero_point) * np.float32(spec.scale)
    return arr.astype(np.float32, copy=False)

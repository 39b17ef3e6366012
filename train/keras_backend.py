"""A Keras model behind the device's ``Backend`` interface (``edge.backends.base``), so
training's val mAP, conversion parity and ``edge eval`` on ``.keras`` files run the same
``edge.detector.Detector`` the device runs. Takes batches of any size.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edge.backends.base import Signature, TensorSpec


def _spec(i: int, name: str, tensor: Any) -> TensorSpec:
    # a dynamic batch axis is written as 1: decoders read per-image shapes
    shape = tuple(1 if d is None else int(d) for d in tensor.shape)
    return TensorSpec(i, name, shape, np.dtype("float32"))


class KerasBackend:
    """One Keras model with a single image input (B, H, W, C) float32.

    ``invoke`` returns its outputs as float32 numpy arrays in ``model.outputs`` order
    (names: ``model.output_names``), batch axis kept.
    """

    def __init__(self, model: Any, source: str = "keras model") -> None:
        if len(model.inputs) != 1:
            raise ValueError(f"{source}: expected one image input, model has {len(model.inputs)}")
        self.model = model
        inp = model.inputs[0]
        if len(inp.shape) != 4 or inp.shape[3] not in (1, 3):
            raise ValueError(f"{source}: input shape {tuple(inp.shape)} is not an image batch "
                             "[B, H, W, 1|3]")
        names = list(model.output_names)
        outputs = tuple(_spec(i, n, t) for i, (n, t) in enumerate(zip(names, model.outputs)))
        self.signature = Signature((_spec(0, str(inp.name), inp),), outputs, source=source,
                                   max_batch=None)

    def invoke(self, batch: np.ndarray) -> list[np.ndarray]:
        """(B, H, W, C) (or (H, W, C)) float32 model input -> outputs, batch axis kept."""
        x = batch[None] if batch.ndim == 3 else batch
        out = self.model(x, training=False)
        if isinstance(out, dict):
            out = [out[n] for n in self.model.output_names]
        elif not isinstance(out, (list, tuple)):
            out = [out]
        return [np.asarray(o, np.float32) for o in out]

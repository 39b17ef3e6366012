"""What a model family declares (``train.families``): the interface ``train.fit`` and
``convert`` rely on, and the parts every family shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from edge.core.metadata import ModelMetadata

if TYPE_CHECKING:
    from edge.datasets import Dataset
    from train.fit import TrainConfig

# (boxes per image: (G, 4) xyxy normalized to the model input, classes per image: (G,) int)
# -> one batch of targets, one array per model output (or per loss)
Encoder = Callable[[list[np.ndarray], list[np.ndarray]], tuple[np.ndarray, ...]]


@dataclass
class Built:
    """A family's model, ready to compile and fit.

    ``target_shapes``: per-image shape of each target array ``encoder`` returns, in the
    order of ``losses`` (Keras pairs them with the model outputs by position).
    """

    model: Any  # keras.Model
    encoder: Encoder
    losses: list[Any]
    metadata: ModelMetadata
    target_shapes: list[tuple[int, ...]]
    note: str = ""
    # XLA-compile the train step (Keras turns it off on CPU-only machines by default). Measured
    # per family on this 2-core CPU: yolo-nano 2x faster with it, tiny-YOLO 2x and the
    # depthwise-heavy SSD 3x slower (bench/train_step.py)
    jit_compile: bool = False
    # peak learning rate when the user gives none; measured per family (docs/benchmarks.md)
    lr: float = 2e-3
    # decoupled weight decay (AdamW) on the conv kernels when the user gives none; 0: plain Adam
    weight_decay: float = 0.0
    # last fraction of the planned epochs without mosaic and scale/translate jitter, when the user
    # gives none (YOLOX's no-aug epochs; measured per family, docs/benchmarks.md)
    close_augment: float = 0.3
    # images per training step when the user gives none (measured per family, docs/benchmarks.md)
    batch_size: int = 16


class ModelFamily(Protocol):
    """One architecture. ``setup`` looks at the data (anchors); ``build`` makes the model."""

    name: str
    summary: str

    def setup(self, cfg: TrainConfig, train_ds: Dataset) -> tuple[dict, str]:
        """Data-dependent choices (anchors, strides) and a line saying what was chosen."""
        ...

    def build(self, cfg: TrainConfig, labels: list[str], setup: dict, provenance: dict) -> Built:
        """Model, target encoder, losses and model contract for ``labels``."""
        ...

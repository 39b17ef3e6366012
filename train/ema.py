"""Exponential moving average of the weights (YOLOv5's ``ModelEMA``), for validation,
checkpoints and conversion.

The decay ramps up, ``d = decay * (1 - exp(-updates / tau))``, so early weights (random)
are forgotten quickly and the average settles to a window of ``~1 / (1 - decay)`` steps.
YOLOv5's 0.9999 (a 10k-step window) suits runs of 100k+ steps; a CPU run of a few thousand
would average in its early, high-learning-rate weights. With ``decay=None`` the window is a
fraction of the planned run (``horizon()``, re-read as a time budget re-plans it).
BatchNorm moving statistics are averaged too: they belong to the weights the
average describes.

Keras runs callbacks in list order, so ``swap_in`` goes first in the callback list (val mAP
and checkpoints then see the EMA weights) and ``swap_out`` after the checkpoints (training
and ``BackupAndRestore`` continue from the raw weights).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

WINDOW_FRACTION = 0.05  # of the planned steps, when the decay follows the run
MIN_WINDOW = 50  # steps


class WeightEma:
    """Shadow copies of a model's float weights, updated after every training batch."""

    def __init__(self, decay: float | None = None, tau: float | None = None,
                 horizon: Callable[[], int] | None = None) -> None:
        if decay is not None and not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        if decay is None and horizon is None:
            raise ValueError("EMA needs a fixed decay or the planned number of steps (horizon)")
        self._decay, self._tau, self.horizon = decay, tau, horizon
        self.model: keras.Model | None = None
        self.shadow: list[tf.Variable] = []
        self.weights: list = []
        self.updates = 0
        self.swapped = False

    def attach(self, model: keras.Model) -> None:
        self.model = model
        self.weights = [w for w in model.weights if np.dtype(w.dtype).kind == "f"]
        self.shadow = [tf.Variable(np.asarray(w), trainable=False) for w in self.weights]
        self.updates = 0

        @tf.function
        def update(d: tf.Tensor) -> None:
            for s, w in zip(self.shadow, self.weights):
                s.assign(d * s + (1.0 - d) * tf.cast(w.value, s.dtype))

        self._update = update

    @property
    def window(self) -> float:
        """Steps the average settles to (1 / (1 - decay))."""
        if self._decay is not None:
            return 1.0 / (1.0 - self._decay)
        return max(MIN_WINDOW, WINDOW_FRACTION * self.horizon())

    def current_decay(self) -> float:
        w = self.window
        tau = self._tau if self._tau is not None else w  # ramp over about one window
        return (1.0 - 1.0 / w) * (1.0 - math.exp(-self.updates / tau))

    def step(self) -> None:
        self.updates += 1
        self._update(tf.constant(self.current_decay(), tf.float32))

    def swap(self) -> None:
        """Exchange model weights and averages (call twice to undo)."""
        for s, w in zip(self.shadow, self.weights):
            tmp = np.asarray(w)
            w.assign(s.numpy())
            s.assign(tmp)
        self.swapped = not self.swapped

    def swap_in(self) -> keras.callbacks.Callback:
        return _SwapIn(self)

    def swap_out(self) -> keras.callbacks.Callback:
        return _SwapOut(self)


class _SwapIn(keras.callbacks.Callback):
    def __init__(self, ema: WeightEma) -> None:
        super().__init__()
        self.ema = ema

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.ema.attach(self.model)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.ema.step()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if not self.ema.swapped:
            self.ema.swap()


class _SwapOut(keras.callbacks.Callback):
    def __init__(self, ema: WeightEma) -> None:
        super().__init__()
        self.ema = ema

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.ema.swapped and not self.model.stop_training:
            self.ema.swap()

    def on_train_end(self, logs: dict | None = None) -> None:
        # the run ends on the averaged weights: what was validated and saved is what returns
        if not self.ema.swapped:
            self.ema.swap()

"""The training schedule: learning rate per step, epochs fitted to a time budget, strong
augmentation off for the last epochs, and training throughput.

Learning rate: linear warm-up from ``lr * WARMUP_START`` to ``lr``, then cosine decay to
``lr * final_lr``, over the *planned* number of steps. With a time budget (``edge train
--time``) the plan is re-fitted after every epoch from the measured epoch time (training
plus its val mAP pass), as Ultralytics' ``time=`` does, so the run ends on a low learning
rate at its budget instead of being cut off mid-schedule; the run stops after the epoch
that completes the plan, within one epoch of the budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import keras

WARMUP_START = 0.1
WARMUP_FRACTION = 0.05  # of the planned steps, at most WARMUP_EPOCHS
WARMUP_EPOCHS = 3


def lr_at(step: int, total: int, peak: float, final: float, warmup: int) -> float:
    """Learning rate at ``step`` (0-based) of ``total``: linear warm-up, cosine to ``peak*final``."""
    if step < warmup:
        return peak * (WARMUP_START + (1.0 - WARMUP_START) * step / max(1, warmup))
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * t)))


class Schedule(keras.callbacks.Callback):
    """Sets the optimizer's learning rate each step and plans the epochs.

    ``budget_s``: wall seconds for the whole fit (None: ``epochs`` as given). ``on_close``
    is called once when the last ``close_fraction`` of the planned epochs begins (augmentation off).
    Logs ``lr`` (the last step's), ``img_s`` (training images per second, val pass excluded)
    and ``epoch_s`` (wall seconds, val pass included) per epoch.
    """

    def __init__(self, peak_lr: float, epochs: int, steps_per_epoch: int, batch_size: int,
                 final_lr: float = 0.01, budget_s: float | None = None, close_fraction: float = 0.1,
                 on_close: Callable[[], None] | None = None, verbose: bool = True) -> None:
        super().__init__()
        self.peak, self.final = peak_lr, final_lr
        self.planned, self.steps, self.batch = epochs, steps_per_epoch, batch_size
        self.budget_s, self.close_fraction, self.on_close = budget_s, close_fraction, on_close
        self.verbose = verbose
        self.step = 0
        self.closed = False
        self.epoch_times: list[float] = []
        self.last_lr = peak_lr

    @property
    def total_steps(self) -> int:
        return max(1, self.planned * self.steps)

    def _warmup(self) -> int:
        return min(WARMUP_EPOCHS * self.steps, int(WARMUP_FRACTION * self.total_steps))

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.t0 = time.perf_counter()

    def on_train_end(self, logs: dict | None = None) -> None:
        self.fit_seconds = time.perf_counter() - self.t0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.step = max(self.step, epoch * self.steps)  # resumed runs continue the schedule
        now = time.perf_counter()
        if hasattr(self, "t_epoch"):  # begin to begin: checkpoint saves after this callback count
            self.epoch_times.append(now - self.t_epoch)
        self.t_epoch = now
        self.t_train: float | None = None
        if (not self.closed and self.on_close is not None
                and epoch >= math.floor(self.planned * (1.0 - self.close_fraction))):
            self.closed = True
            self.on_close()
            if self.verbose:
                print(f"epoch {epoch + 1}/{self.planned}: last {self.close_fraction:.0%} of the "
                      "schedule: mosaic and scale/translate augmentation off", flush=True)

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.last_lr = lr_at(self.step, self.total_steps, self.peak, self.final, self._warmup())
        self.model.optimizer.learning_rate.assign(self.last_lr)
        self.step += 1

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.t_train = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        now = time.perf_counter()
        train_s = (self.t_train or now) - self.t_epoch
        if logs is not None:
            logs["lr"] = self.last_lr
            logs["img_s"] = self.steps * self.batch / max(train_s, 1e-9)
            logs["epoch_s"] = now - self.t_epoch  # so far: checkpoint saves come after
        if self.budget_s is None:
            return
        elapsed = now - self.t0
        recent = self.epoch_times[-3:] or [now - self.t_epoch]
        per_epoch = sum(recent) / len(recent)
        done = epoch + 1
        self.planned = max(done, done + round((self.budget_s - elapsed) / per_epoch))
        if done >= self.planned:
            if self.verbose:
                print(f"time budget {self.budget_s / 60:.1f} min: done after epoch {done} "
                      f"({elapsed / 60:.1f} min)", flush=True)
            self.model.stop_training = True

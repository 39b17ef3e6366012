"""The training schedule fits a time budget and EMA weights are what gets validated and saved."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from train.ema import WeightEma
from train.families.tiny_yolo import LR
from train.fit import TrainConfig, train
from train.schedule import lr_at


def test_lr_warms_up_then_decays_to_the_final_fraction() -> None:
    lrs = [lr_at(s, 1000, 1e-2, 0.01, 50) for s in range(1000)]
    assert lrs[0] == pytest.approx(1e-3)
    assert max(lrs) == pytest.approx(1e-2, rel=1e-3) and int(np.argmax(lrs)) in (49, 50)
    assert all(a >= b for a, b in zip(lrs[50:], lrs[51:]))  # monotone after warm-up
    assert lrs[-1] == pytest.approx(1e-4, rel=0.01)


def test_augmentation_closes_once_for_the_last_fraction_of_the_epochs() -> None:
    from train.schedule import Schedule

    closed_at: list[int] = []
    sched = Schedule(1e-3, 20, 10, 8, close_fraction=0.15, on_close=lambda: closed_at.append(epoch),
                     verbose=False)
    for epoch in range(20):
        sched.on_epoch_begin(epoch)
    assert closed_at == [17]  # epochs 18-20 of 20 (0-based 17-19): the last 15 %
    with pytest.raises(ValueError, match="close_augment"):
        TrainConfig(data=Path("."), out=Path("."), close_augment=1.0).check()


def _toy() -> keras.Model:
    inp = keras.Input((4,))
    x = keras.layers.Dense(8)(inp)
    x = keras.layers.BatchNormalization()(x)
    return keras.Model(inp, keras.layers.Dense(1)(x))


def test_ema_window_follows_the_planned_run() -> None:
    planned = [10_000]
    ema = WeightEma(horizon=lambda: planned[0])
    assert ema.window == 500  # 5 % of the planned steps
    planned[0] = 200
    assert ema.window == 50  # never shorter than 50 steps
    ema.updates = 10_000
    assert ema.current_decay() == pytest.approx(1 - 1 / 50)
    assert WeightEma(decay=0.9999, tau=2000).window == pytest.approx(10_000)


def test_the_saved_checkpoint_holds_the_ema_of_the_weights(tmp_path: Path) -> None:
    """Replays the EMA update in numpy from the raw weights seen after every step and compares
    it with what ModelCheckpoint wrote between swap_in and swap_out (the order train.fit uses)."""
    keras.utils.set_random_seed(0)
    model = _toy()
    model.compile(keras.optimizers.Adam(0.05), "mse")
    ema = WeightEma(decay=0.9, tau=3.0)  # fixed: YOLOv5's formula with a short window
    seen: list[list[np.ndarray]] = []
    floats = [i for i, w in enumerate(model.weights) if np.dtype(w.dtype).kind == "f"]
    start = [np.asarray(model.weights[i]).copy() for i in floats]

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            seen.append([np.asarray(self.model.weights[i]).copy() for i in floats])

    x = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    y = x.sum(1, keepdims=True)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False,
              callbacks=[Record(), ema.swap_in(), keras.callbacks.ModelCheckpoint(tmp_path / "last.keras"),
                         ema.swap_out()])
    shadow = start
    for n, raw in enumerate(seen, 1):
        d = 0.9 * (1 - np.exp(-n / 3.0))
        shadow = [d * s + (1 - d) * w for s, w in zip(shadow, raw)]
    saved = keras.saving.load_model(tmp_path / "last.keras")
    for i, s in zip(floats, shadow):
        np.testing.assert_allclose(np.asarray(saved.weights[i]), s, rtol=1e-5, atol=1e-6)
    assert not np.allclose(np.asarray(saved.weights[floats[0]]), seen[-1][0])  # not the raw weights
    for i, s in zip(floats, shadow):  # the fit ends on the averaged weights too
        np.testing.assert_allclose(np.asarray(model.weights[i]), s, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_time_budget_plans_the_epochs_and_stops_within_one_epoch(synth_data: Path, tmp_path: Path) -> None:
    budget_s = 40.0
    r = train(TrainConfig(data=synth_data, out=tmp_path / "run", model="tiny-yolo", input_size=96,
                          batch_size=8, width=0.25, augment=True, mosaic=0.5, verbose=0, seed=0,
                          time_minutes=budget_s / 60, patience=1000))
    epoch_s = r.history["epoch_s"]
    longest = max(epoch_s) + 1.0  # + checkpoint saves, which run after epoch_s is taken
    assert len(epoch_s) >= 3
    assert budget_s - longest <= r.fit_seconds <= budget_s + longest, (r.fit_seconds, epoch_s)
    # the schedule was fitted to the budget: the last epoch trains at the end of the cosine
    assert r.history["lr"][-1] < 0.1 * LR, r.history["lr"]  # tiny-YOLO's peak


def test_a_finished_run_is_not_retrained_silently(synth_data: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from train.cli import train_command

    out = tmp_path / "run"
    out.mkdir()
    (out / "model.keras").write_bytes(b"an earlier run's model")
    (out / "train_report.json").write_text("{}")
    res = CliRunner().invoke(train_command, ["--data", str(synth_data), "--out", str(out),
                                             "--model", "tiny-yolo", "--epochs", "1"])
    assert res.exit_code != 0 and "holds a finished run" in res.output and "--exist-ok" in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)  # a message, not a traceback
    assert (out / "model.keras").read_bytes() == b"an earlier run's model"  # nothing lost


def test_weight_decay_shrinks_conv_kernels_but_not_batchnorm_or_biases() -> None:
    from train.fit import _optimizer

    assert type(_optimizer(1e-3, 0.0)) is keras.optimizers.Adam
    model = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Conv2D(2, 1),
                              keras.layers.BatchNormalization(gamma_initializer="ones")])
    opt = _optimizer(0.1, 0.5)
    before = {v.path: np.array(v) for v in model.trainable_variables}
    # zero gradients: only the decoupled decay can move a variable
    opt.apply_gradients([(keras.ops.zeros_like(v), v) for v in model.trainable_variables])
    for v in model.trainable_variables:
        b, a = before[v.path], np.array(v)
        if v.path.endswith("kernel"):
            np.testing.assert_allclose(a, b * (1 - 0.1 * 0.5), rtol=1e-5)  # lr * weight_decay
        else:
            np.testing.assert_array_equal(a, b)


def test_weight_decay_out_of_range_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="weight decay must be in"):
        TrainConfig(tmp_path, tmp_path, weight_decay=-0.1).check()

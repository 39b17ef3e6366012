"""Model families are one module each: a family written in a temporary module (nothing else
edited) trains, converts to int8 and runs on the device path; --weights loads a backbone file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from train import families

TOY_FAMILY = '''
"""A toy grid YOLO: five strided convs, two sigmoid heads, the tiny-YOLO targets and loss."""
from dataclasses import dataclass

import keras
import numpy as np
from keras import layers

from train.contract import yolo_metadata
from train.families.base import Built
from train.losses import YoloLoss
from train.targets import YoloTargetEncoder

STRIDES = (16, 32)


@dataclass(frozen=True)
class ToyFamily:
    name: str = "toy-grid"
    summary: str = "five convs, written in a test"

    def setup(self, cfg, train_ds):
        anchors = [np.array([[16, 16], [32, 24]], np.float32), np.array([[48, 40], [80, 64]], np.float32)]
        return {"anchors": anchors}, "fixed anchors"

    def build(self, cfg, labels, setup, provenance):
        n, s, a = len(labels), cfg.input_size, setup["anchors"]
        inp = keras.Input((s, s, 3), name="image")
        x = inp
        for i, f in enumerate((8, 16, 16, 32)):
            x = layers.Conv2D(f, 3, 2, padding="same", activation="relu6", name=f"toy{i}")(x)
        y = layers.Conv2D(32, 3, 2, padding="same", activation="relu6", name="toy4")(x)
        outs = [layers.Conv2D(2 * (5 + n), 1, activation="sigmoid", name=f"grid_s{st}")(f)
                for st, f in zip(STRIDES, (x, y))]
        return Built(keras.Model(inp, outs, name="toy"),
                     YoloTargetEncoder(s, list(STRIDES), a, n).encode_batch,
                     [YoloLoss(st, an, n, s) for st, an in zip(STRIDES, a)],
                     yolo_metadata(labels, s, list(STRIDES), a, "toy", provenance),
                     [(s // st, s // st, 2 * (5 + n)) for st in STRIDES], close_augment=0.5, batch_size=4)


FAMILY = ToyFamily()
'''


def test_builtin_families_are_listed_without_importing_tensorflow() -> None:
    import subprocess
    import sys

    code = ("import sys; from train import families; print(families.names()); "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["['tiny-yolo', 'tiny-yolo-3l', 'yolo-nano', 'ssd']", "False"]


def test_unknown_family_names_the_registered_ones() -> None:
    listed = r"model must be one of \['tiny-yolo', 'tiny-yolo-3l', 'yolo-nano', 'ssd'"
    with pytest.raises(ValueError, match=listed):
        families.get("yolo-huge")
    with pytest.raises(ValueError, match="cannot be imported"):
        families.get("no_such_module_xyz:FAMILY")


@pytest.mark.slow
def test_a_family_in_its_own_module_trains_converts_and_runs(tmp_path: Path, synth_data: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from convert.pipeline import ConvertOptions, convert_run
    from edge.detector import Detector
    from edge.evaluation.evaluate import read_bgr
    from train.fit import TrainConfig, train

    (tmp_path / "toy_family_mod.py").write_text(TOY_FAMILY)
    monkeypatch.syspath_prepend(str(tmp_path))
    r = train(TrainConfig(data=synth_data, out=tmp_path / "run", model="toy_family_mod:FAMILY", input_size=96,
                          epochs=2, lr=1e-2, verbose=1, steps_per_epoch=10))
    assert "toy-grid" in families.names() and r.metadata.provenance["family"] == "toy-grid"
    # the family's own closing fraction (Built.close_augment) and batch (Built.batch_size) are what ran
    printed = capsys.readouterr().out
    assert "epoch 2/2: last 50% of the schedule" in printed
    assert "batch 4 (the family's default)" in printed
    # and the run records the values that ran, not the config's None (= the family's)
    assert r.metadata.provenance["hyper"] == {"lr": 1e-2, "weight_decay": 0.0, "close_augment": 0.5,
                                              "batch_size": 4}
    report = json.loads((tmp_path / "run" / "train_report.json").read_text())
    assert report["close_augment"] == 0.5 and report["weight_decay"] == 0.0 and report["batch_size"] == 4
    assert (r.out / "model.keras").is_file()
    res = convert_run(r.out, tmp_path / "toy.tflite", ConvertOptions(
        quant="int8", calib_data=synth_data / "train" / "images", calib_count=8, val_data=synth_data,
        max_drop=1.0, progress=False))  # barely trained: the gate is not the point here
    assert res.parity is not None and res.out.is_file()
    det = Detector.load(res.out, score=0.0)
    assert det.decoder.name == "yolo-grid"
    image = read_bgr(sorted((synth_data / "val" / "images").iterdir())[0])
    dets = det.detect(image)
    assert len(dets) > 0 and set(dets.labels) <= {"square", "circle", "triangle"}


def test_ssd_starts_from_a_local_backbone_weights_file(tmp_path: Path) -> None:
    """--weights PATH: a MobileNetV2 backbone file (as keras.applications saves one) is loaded
    by layer name into the SSD's backbone."""
    import keras

    from train.models.ssd import build_ssd

    keras.utils.set_random_seed(1)
    backbone = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, include_top=False,
                                              weights=None)
    path = tmp_path / "mobilenet_v2_0.35_no_top.weights.h5"
    backbone.save_weights(path)
    keras.utils.set_random_seed(2)  # a different random start, so equality means it loaded
    model, _ = build_ssd(96, 3, alpha=0.35, weights=path)
    inner = model.get_layer("backbone")
    for name in ("Conv1", "block_6_depthwise", "block_13_project"):
        for got, want in zip(inner.get_layer(name).get_weights(), backbone.get_layer(name).get_weights()):
            np.testing.assert_array_equal(got, want)
    with pytest.raises(FileNotFoundError, match="backbone weights .*missing.h5 not found"):
        build_ssd(96, 3, alpha=0.35, weights=tmp_path / "missing.h5")

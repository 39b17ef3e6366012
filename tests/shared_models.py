"""One set of real tiny models for the whole suite, made by the project's own code.

- ``tiny_dataset``: synthetic shapes written by ``train.synth.make_synthetic`` (YOLO format,
  ``train`` = training and calibration, ``val`` = validation / parity / profile).
- ``tiny_runs``: ``{"ssd": run_dir, "tiny-yolo": run_dir}``, each trained by
  ``train.fit.train`` (real builders, losses, targets) at input 96 on a step budget.
- ``tiny_tflite``: ``{"ssd-fp32": path, "tiny-yolo-int8": path, "ssd-int8-fused": path, ...}``
  made by ``convert.pipeline.convert_run`` (parity against the Keras model included).

Everything is lazy and cached per session: a test that needs only the tiny-YOLO fp32 file
trains only the tiny-YOLO and converts only that variant. Registered in tests/conftest.py.

These models are trained for seconds, not to be good: they exist so conversion, runtime
and profiling run on real trained weights. The tiny-YOLO finds some shapes after its
budget (val mAP@0.5 around 0.05-0.1); the SSD (MobileNetV2, slower per step) gets a
shorter budget and gives low-confidence detections only — tests that compare a converted
model with its Keras model use a low score threshold for it (see tests/convert).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

SYNTH = {"n_train": 48, "n_val": 16, "size_wh": (128, 96), "max_objects": 2, "seed": 0}
INPUT_SIZE = 96
# per architecture: TrainConfig fields. Steps dominate (tracing the train step is a fixed
# ~5-10 s each); max_seconds is a safety net on a loaded machine, not the usual stop.
TRAIN = {
    "ssd": {"width": 0.35, "epochs": 2, "steps_per_epoch": 40, "batch_size": 8, "lr": 1e-2,
            "max_seconds": 90},
    "tiny-yolo": {"width": 0.25, "epochs": 6, "steps_per_epoch": 40, "batch_size": 8, "lr": 1e-2,
                  "max_seconds": 60},
}
ARCHS = tuple(TRAIN)
# variant suffix -> ConvertOptions fields
VARIANTS = {
    "fp32": {"quant": "fp32"},
    "fp16": {"quant": "fp16"},
    "dynamic": {"quant": "dynamic"},
    "int8": {"quant": "int8"},
    "int8-int8io": {"quant": "int8", "io": "int8"},
    "int8-fused": {"quant": "int8", "fuse_postprocess": True},
    "int8-floathead": {"quant": "int8", "float_head": True},
}
CALIB_COUNT = 24
# The models are barely trained and validation has 16 images: one missed shape moves
# mAP@0.5 by ~0.03, so the int8 gate is looser than the product default (0.02).
INT8_MAX_DROP = 0.1


def split_variant(name: str) -> tuple[str, str]:
    """``"tiny-yolo-int8-fused"`` -> (``"tiny-yolo"``, ``"int8-fused"``)."""
    for arch in sorted(ARCHS, key=len, reverse=True):
        if name.startswith(arch + "-") and name[len(arch) + 1:] in VARIANTS:
            return arch, name[len(arch) + 1:]
    raise KeyError(f"unknown variant {name!r}: expected <arch>-<variant> with arch in {ARCHS} "
                   f"and variant in {list(VARIANTS)}")


class LazyMap(Mapping):
    """A read-only mapping whose values are built on first access, then cached."""

    def __init__(self, keys: list[str], build: Callable[[str], Any]) -> None:
        self._keys, self._build, self._cache = list(keys), build, {}

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys:
            raise KeyError(f"{key!r}: expected one of {self._keys}")
        if key not in self._cache:
            self._cache[key] = self._build(key)
        return self._cache[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __call__(self, key: str) -> Any:  # tiny_tflite("ssd-int8") reads well in tests
        return self[key]


def limit_tf_threads() -> None:
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(2)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # TF already initialised by an earlier test: keep its setting


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """root/{train,val}/{images,labels} + data.yaml (square, circle, triangle), 128x96 PNGs."""
    from train.synth import make_synthetic

    return make_synthetic(tmp_path_factory.mktemp("tiny_dataset"), **SYNTH)


def train_tiny(arch: str, data: Path, out: Path) -> Path:
    """One run directory (model.keras + model.edge.json) trained by train.fit."""
    from train.fit import TrainConfig, train

    limit_tf_threads()
    cfg = TrainConfig(data=data, out=out, model=arch, input_size=INPUT_SIZE, augment=False,
                      verbose=0, seed=0, patience=100, **TRAIN[arch])
    train(cfg)
    return out


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory: pytest.TempPathFactory, tiny_dataset: Path) -> LazyMap:
    """{"ssd": run_dir, "tiny-yolo": run_dir}; each trained when first looked up."""
    root = tmp_path_factory.mktemp("tiny_runs")
    return LazyMap(list(ARCHS), lambda arch: train_tiny(arch, tiny_dataset, root / arch))


def convert_tiny(run: Path, variant: str, data: Path, out: Path):
    """``convert_run`` with parity on the val split; int8 calibrates on the train images."""
    from convert.pipeline import ConvertOptions, convert_run

    opts = ConvertOptions(val_data=data, progress=False, **VARIANTS[variant])
    if opts.quant == "int8":
        opts.calib_data, opts.calib_count = data / "train" / "images", CALIB_COUNT
        opts.max_drop = INT8_MAX_DROP
    return convert_run(run, out, opts)


@pytest.fixture(scope="session")
def tiny_tflite(tmp_path_factory: pytest.TempPathFactory, tiny_runs: LazyMap, tiny_dataset: Path) -> LazyMap:
    """``"<arch>-<variant>"`` -> .tflite path (arch: ssd, tiny-yolo; variant: VARIANTS)."""
    root = tmp_path_factory.mktemp("tiny_tflite")
    names = [f"{a}-{v}" for a in ARCHS for v in VARIANTS]

    def build(name: str) -> Path:
        arch, variant = split_variant(name)
        return convert_tiny(tiny_runs[arch], variant, tiny_dataset, root / f"{name}.tflite").out

    return LazyMap(names, build)

"""Keep TensorFlow to a couple of threads: CI has 2 cores shared with other suites."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session", autouse=True)
def _tf_threads() -> None:
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(2)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # already initialised by an earlier test module: keep its setting


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from train.synth import make_synthetic

    return make_synthetic(tmp_path_factory.mktemp("synth"), n_train=24, n_val=6, size_wh=(128, 96), seed=0)

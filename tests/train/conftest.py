"""Keep TensorFlow to a couple of threads: CI has 2 cores shared with other suites."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.shared_models import limit_tf_threads

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session", autouse=True)
def _tf_threads() -> None:
    limit_tf_threads()


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from train.synth import make_synthetic

    return make_synthetic(tmp_path_factory.mktemp("synth"), n_train=24, n_val=6, size_wh=(128, 96), seed=0)

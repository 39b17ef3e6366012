"""Shared fixtures: the real data in ../shared/data (read-only)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("EDGE_SHARED_DATA", REPO.parent / "shared" / "data"))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than a few seconds (still runs in CI)")


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """edge's default state folder (MQTT queue, open events) per test, never the user's
    home: a test killed mid-event must not hand its open event to the next test."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real test data not found at {SHARED_DATA}; clone next to ../shared "
                    "or set EDGE_SHARED_DATA")
    return SHARED_DATA


@pytest.fixture(scope="session")
def ssd_dir(shared_data: Path) -> Path:
    return shared_data / "ssd_mobilenet_v1_coco"


@pytest.fixture(scope="session")
def yolo_dir(shared_data: Path) -> Path:
    return shared_data / "yolov5n_coco"


# one set of CI-trained tiny models for the whole suite (tests/shared_models.py)
from tests.shared_models import tiny_dataset, tiny_runs, tiny_tflite  # noqa: E402, F401

"""Health test helpers: the alerts' real Mosquitto + paho subscriber fixtures, a real model,
a real MJPEG camera, and configs for both."""

from __future__ import annotations

import json
import threading

import cv2
import numpy as np
import pytest

from edge.config import EdgeConfig
from edge.defaults import default_model
from tests.alerts.conftest import Subscriber, broker, subscriber_factory  # noqa: F401 - fixtures
from tests.helpers.mjpeg_server import MjpegServer
from tests.helpers.net import free_port

DEVICE = "hbox"
HEALTH_TOPIC = f"edge/{DEVICE}/health"


def make_config(tmp_path, source, broker_port=None, **sections) -> EdgeConfig:
    """An EdgeConfig on the embedded COCO SSD; ``sections`` override/extend the YAML keys."""
    model, labels = default_model()
    data = {"device": DEVICE, "model": str(model), "labels": str(labels), "source": source,
            "threads": 1, "output": {"jsonl": None},
            "health": {"camera_stall_s": 2.0, "detector_stall_s": 2.0, "check_interval_s": 0.25,
                       "thermal_path": None, "vcgencmd": None}}
    if broker_port is not None:
        data["mqtt"] = {"host": "127.0.0.1", "port": broker_port,
                        "queue_path": str(tmp_path / "queue.db"), "reconnect_min_s": 0.2,
                        "reconnect_max_s": 0.5, "publish_snapshots": False}
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return EdgeConfig.model_validate(data)


def health(sub: Subscriber) -> list[dict]:
    """Every health message the subscriber got, oldest first."""
    return [json.loads(m.payload) for m in sub.on(HEALTH_TOPIC)]


def latest_on(sub: Subscriber, state: str) -> bool | None:
    msgs = health(sub)
    return msgs[-1]["states"][state]["on"] if msgs else None


@pytest.fixture
def camera():
    """A live MJPEG camera on loopback, 10 FPS of a flat frame; stop()/start() it freely."""
    cam = MjpegServer(free_port(), fps=10).start()
    yield cam
    cam.stop()


@pytest.fixture
def cat_camera(ssd_dir):
    """A live MJPEG camera where a cat is in view for 0.5 s of every 1 s."""
    cat = cv2.resize(cv2.imread(str(ssd_dir / "cat.bmp")), (240, 210))
    background = np.full((240, 320, 3), 200, np.uint8)
    with_cat = background.copy()
    with_cat[15:225, 40:280] = cat
    cam = MjpegServer(free_port(), fps=10,
                      frame_fn=lambda t: with_cat if (t % 1.0) < 0.5 else background).start()
    yield cam
    cam.stop()


def run_in_thread(pipeline):
    """Start ``pipeline.run()`` on a thread; returns (thread, result dict)."""
    result: dict = {}

    def target():
        try:
            result["summary"] = pipeline.run()
        except Exception as e:  # noqa: BLE001 - the test inspects it
            result["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, result

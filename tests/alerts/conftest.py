"""Alert test helpers: a real Mosquitto on a free loopback port, a real paho subscriber, and
FrameResults built from plain boxes."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import pytest

from edge.core.boxes import Detections
from edge.core.frame import Frame, FrameResult
from tests.helpers.broker import Broker

REPO = Path(__file__).resolve().parents[2]
EVENT_SCHEMA = REPO / "docs" / "schemas" / "event.schema.json"
LABELS = ("person", "cat", "dog", "raccoon")


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path).start()
    yield b
    b.stop()


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool
    t: float  # time.monotonic() at receipt

    def json(self) -> dict:
        return json.loads(self.payload)


class Subscriber:
    """A real paho client collecting every message on ``topics``."""

    def __init__(self, port: int, topics: list[str], client_id: str = "test-sub",
                 clean_session: bool = True, qos: int = 1) -> None:
        self.messages: list[Received] = []
        self.cond = threading.Condition()
        self.subscribed = threading.Event()
        self.topics = topics
        self.qos = qos
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                             clean_session=clean_session)
        self.c.reconnect_delay_set(0.1, 0.2)
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        self.c.connect("127.0.0.1", port, 10)
        self.c.loop_start()
        if not self.subscribed.wait(5):
            raise RuntimeError("subscriber did not subscribe")

    def _on_connect(self, client, userdata, flags, rc, props) -> None:
        if not rc.is_failure:
            client.subscribe([(t, self.qos) for t in self.topics])

    def _on_message(self, client, userdata, msg) -> None:
        with self.cond:
            self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain),
                                          time.monotonic()))
            self.cond.notify_all()

    def on(self, topic: str) -> list[Received]:
        with self.cond:
            return [m for m in self.messages if m.topic == topic]

    def wait_for(self, pred, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def subscriber_factory():
    subs: list[Subscriber] = []

    def make(port: int, topics: list[str], **kw) -> Subscriber:
        s = Subscriber(port, topics, **kw)
        subs.append(s)
        return s

    yield make
    for s in subs:
        s.close()


class Clock:
    """Frames at ``fps`` on a synthetic capture clock (monotonic and wall advance together)."""

    def __init__(self, fps: float = 10.0, size_wh: tuple[int, int] = (640, 480)) -> None:
        self.fps = fps
        self.size_wh = size_wh
        self.index = 0
        self.t0_mono = time.monotonic()
        self.t0_wall = time.time()
        self.image = np.full((size_wh[1], size_wh[0], 3), 80, np.uint8)

    def frame(self) -> Frame:
        dt = self.index / self.fps
        f = Frame(self.image, self.index, self.t0_mono + dt, self.t0_wall + dt, "test")
        self.index += 1
        return f

    def result(self, boxes=(), labels=(), scores=None) -> FrameResult:
        """boxes: normalized xyxy; labels: names from LABELS."""
        n = len(boxes)
        dets = Detections(np.asarray(boxes, np.float32).reshape(-1, 4),
                          np.asarray(scores if scores is not None else [0.9] * n, np.float32),
                          np.asarray([LABELS.index(x) for x in labels], np.int32), LABELS)
        return FrameResult(self.frame(), dets, {"latency": 1.0})

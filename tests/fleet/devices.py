"""A test fleet of real parts: `edge run --config` child processes on the bundled shapes
model, a live MJPEG camera looping the bundled shapes clip, Python's http.server on
loopback serving packages made by `edge.fleet.package.make_package`, and Mosquitto
(tests/helpers/broker.py) with a paho subscriber (tests/alerts/conftest.py)."""

from __future__ import annotations

import functools
import hashlib
import json
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import paho.mqtt.client as mqtt
import pytest
import yaml

from edge.defaults import SHAPES_CLIP, SHAPES_MODEL
from tests.alerts.conftest import Subscriber
from tests.helpers.broker import Broker
from tests.helpers.mjpeg_server import MjpegServer
from tests.helpers.net import free_port

# Fault injection for the rollback tests, run in the child before the CLI. This is the one
# fake part: a model whose pipeline fails only after the swap cannot be made reliably from
# real weights (the install gates run the same interpreter on the same kind of images), so
# for a store version whose name contains "crash" the *pipeline's* detector raises from its
# 6th frame on, for "stall" it hangs 6 s per frame from then on, and for "slow" it takes
# 1 s per frame (an FPS collapse). The install gates load their own detector and are not
# affected, so the package passes them as a real one would.
FAULTS = """
import time
from pathlib import Path
import edge.app as app
_build = app.build_pipeline
def build_pipeline(s):
    p = _build(s)
    version = Path(s.model).parent.name  # versions/<version>/<model>.tflite
    fault = next((f for f in ("crash", "stall", "slow") if f in version), None)
    if fault:
        det, n, real = p.detector, [0], p.detector.detect_with_timings
        def detect_with_timings(*a, **k):
            n[0] += 1
            if n[0] > 5:
                if fault == "crash":
                    raise RuntimeError("injected detector failure (test)")
                time.sleep(6.0 if fault == "stall" else 1.0)
            return real(*a, **k)
        det.detect_with_timings = detect_with_timings
    return p
app.build_pipeline = build_pipeline
from edge.cli import main
main()
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.cache
def _clip_frames() -> tuple:
    cap = cv2.VideoCapture(str(SHAPES_CLIP))
    frames = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    return tuple(frames)


def shapes_camera(fps: float = 10.0) -> MjpegServer:
    """A live camera looping the shapes clip (shapes come and go: events start and end)."""
    frames = _clip_frames()
    h, w = frames[0].shape[:2]
    return MjpegServer(free_port(), size_wh=(w, h), fps=fps,
                       frame_fn=lambda t: frames[int(t * 15) % len(frames)]).start()


def still_camera(fps: float = 10.0) -> MjpegServer:
    """A live camera always showing one circle (train.synth, seed 1; the shapes model
    scores it ~0.93): one alert event stays open for as long as the camera runs."""
    import numpy as np

    from train.synth import synth_image

    img, _ = synth_image(np.random.default_rng(1), (320, 240), 2)
    return MjpegServer(free_port(), size_wh=(320, 240), fps=fps, frame_fn=lambda t: img).start()


def shapes_dataset(root: Path) -> Path:
    """A small labelled sample of the shapes the model was trained on (train.synth)."""
    from train.synth import make_synthetic

    if not (root / "data.yaml").is_file():
        make_synthetic(root, n_train=1, n_val=16, seed=1)
    return root


def make_shapes_package(tmp: Path, version: str, www: Path, labels: list[str] | None = None) -> Path:
    """A real package of the bundled shapes model (optionally with other label names),
    written into the served folder ``www``."""
    from edge.fleet.package import make_package

    www.mkdir(parents=True, exist_ok=True)
    lab = None
    if labels is not None:
        lab = tmp / f"labels-{version}.txt"
        lab.write_text("".join(f"{n}\n" for n in labels))
    out = www / f"shapes-{version}.edgepkg"
    if out.is_file():  # the same bytes again (a redelivery), not a rebuild
        return out
    make_package(SHAPES_MODEL, shapes_dataset(tmp / "shapes-data"), version, out, labels=lab,
                 name="shapes")
    return out


class FileServer:
    """Python's http.server on loopback serving ``root``."""

    def __init__(self, root: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: Path) -> str:
        return f"http://127.0.0.1:{self.port}/{path.name}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def delivery(server: FileServer, package: Path, version: str, digest: str | None = None) -> bytes:
    return json.dumps({"url": server.url(package), "sha256": digest or sha256(package),
                       "version": version}).encode()


@dataclass
class Device:
    """One `edge run --config` child process and its files."""

    name: str
    dir: Path
    proc: subprocess.Popen

    @property
    def store(self) -> Path:
        return self.dir / "store"

    @property
    def log(self) -> Path:
        return self.dir / "edge.log"

    def frames(self) -> list[dict]:
        p = self.dir / "frames.jsonl"
        if not p.is_file():
            return []
        return [json.loads(x) for x in p.read_text().splitlines() if x.strip().endswith("}")]

    def events(self) -> list[dict]:
        p = self.dir / "events.jsonl"
        if not p.is_file():
            return []
        return [json.loads(x) for x in p.read_text().splitlines() if x.strip()]

    def tail(self) -> str:
        return self.log.read_text()[-4000:] if self.log.is_file() else "(no log)"

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(f"{self.name} did not stop on SIGTERM:\n{self.tail()}") from None


def start_device(tmp: Path, name: str, broker_port: int, camera_url: str, *,
                 groups: tuple[str, ...] = ("lab",), grace_s: float = 4.0,
                 faults: bool = False, home_assistant: bool = False) -> Device:
    """`edge run --config <name>.yaml` on the shapes model and the camera, alerting on any
    shape over MQTT and to an event log; taking deliveries for its groups."""
    d = tmp / name
    d.mkdir(parents=True, exist_ok=True)
    cfg = {
        "device": name,
        "model": str(SHAPES_MODEL),
        "source": camera_url,
        "threads": 1,
        "stats_interval_s": 2,
        "output": {"jsonl": str(d / "frames.jsonl")},
        "mqtt": {"host": "127.0.0.1", "port": broker_port, "queue_path": str(d / "queue.db"),
                 "publish_snapshots": False, "reconnect_min_s": 0.2, "reconnect_max_s": 1},
        "event_log": {"path": str(d / "events.jsonl")},
        "rules": [{"name": "shape", "labels": ["square", "circle", "triangle"],
                   "min_score": 0.5, "min_frames": 2, "end_after_frames": 5, "cooldown_s": 0}],
        "fleet": {"store": str(d / "store"), "groups": list(groups), "grace_s": grace_s,
                  "min_fps_ratio": 0.2},
    }
    if home_assistant:
        cfg["home_assistant"] = {"discovery": True}
    (d / f"{name}.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    code = FAULTS if faults else "from edge.cli import main; main()"
    with open(d / "edge.log", "wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", code, "run", "--config",
                                 str(d / f"{name}.yaml")], stdout=out, stderr=subprocess.STDOUT)
    return Device(name, d, proc)


def states(sub: Subscriber, device: str) -> list[dict]:
    return [m.json() for m in sub.on(f"edge/{device}/model/state")]


def last_state(sub: Subscriber, device: str) -> dict:
    s = states(sub, device)
    return s[-1] if s else {}


def publish(port: int, topic: str, payload: bytes, retain: bool = False) -> None:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-pub")
    c.connect("127.0.0.1", port)
    c.loop_start()
    c.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)
    c.disconnect()
    c.loop_stop()


@pytest.fixture
def fleet_parts(tmp_path):
    broker = Broker(tmp_path).start()
    camera = shapes_camera()
    www = tmp_path / "www"
    www.mkdir()
    server = FileServer(www)
    sub = Subscriber(broker.port, ["edge/#", "homeassistant/#"])
    devices = []
    yield broker, camera, server, www, sub, devices
    for d in devices:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait(5)
    sub.close()
    server.stop()
    camera.stop()
    broker.stop()

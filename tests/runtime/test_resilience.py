"""A killed detector is restarted by its supervisor and loses no event.

Real parts: a live MJPEG camera on loopback in which a cat appears and leaves, `edge run`
as a child process under a supervisor loop (what systemd's Restart=always does), SIGKILL
mid-run while the MQTT broker is down, then a real Mosquitto and a paho subscriber.
"""

import json
import signal
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest

from tests.helpers.broker import Broker
from tests.helpers.mjpeg_server import MjpegServer
from tests.helpers.net import free_port, wait_for


class Supervisor:
    """Restart the command whenever it exits, like systemd's Restart=always."""

    def __init__(self, cmd, log_path):
        self.cmd, self.log_path = cmd, log_path
        self.starts = 0
        self.proc = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        with open(self.log_path, "ab") as log:
            while not self._stop.is_set():
                self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT)
                self.starts += 1
                while self.proc.poll() is None and not self._stop.is_set():
                    time.sleep(0.05)
                if not self._stop.is_set():
                    time.sleep(0.3)  # RestartSec

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._thread.join(5)




def read_events(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.slow
def test_killed_process_is_restarted_and_queued_events_survive(tmp_path, ssd_dir):
    cat = cv2.resize(cv2.imread(str(ssd_dir / "cat.bmp")), (240, 210))
    background = np.full((240, 320, 3), 200, np.uint8)
    with_cat = background.copy()
    with_cat[15:225, 40:280] = cat

    def frame(t):  # the cat is in view from 1 s to 3 s after the camera starts
        return with_cat if 1.0 <= t < 3.0 else background

    camera = MjpegServer(free_port(), fps=15, frame_fn=frame).start()
    broker_port = free_port()
    cfg = tmp_path / "box.yaml"
    cfg.write_text(f"""
device: resilient
model: {ssd_dir / 'ssd_mobilenet_v1_coco_quant.tflite'}
labels: {ssd_dir / 'labelmap.txt'}
source: {camera.url}
threads: 1
output: {{jsonl: null}}
mqtt: {{host: 127.0.0.1, port: {broker_port}, queue_path: {tmp_path / 'queue.db'},
        reconnect_min_s: 0.2, reconnect_max_s: 1.0, publish_snapshots: false}}
event_log: {{path: {tmp_path / 'events.jsonl'}}}
rules:
  - {{name: cat, labels: [cat], min_score: 0.5, min_frames: 2, end_after_frames: 5,
      cooldown_s: 0, outputs: [mqtt, event_log]}}
""")
    sup = Supervisor([sys.executable, "-c", "from edge.cli import main; main()", "run", "--config",
                      str(cfg)], tmp_path / "edge.log").start()
    broker = None
    try:
        # the broker is down: the start/end events can only go to the on-disk queue
        assert wait_for(lambda: {e["phase"] for e in read_events(tmp_path / "events.jsonl")}
                        >= {"start", "end"}, 40), (tmp_path / "edge.log").read_text()[-3000:]
        before = [e for e in read_events(tmp_path / "events.jsonl") if e["phase"] in ("start", "end")]
        sup.proc.send_signal(signal.SIGKILL)  # power cut / OOM kill: no clean shutdown
        assert wait_for(lambda: sup.starts >= 2, 10)
        received = []
        broker = Broker(tmp_path, port=broker_port).start()
        sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="checker")
        sub.on_message = lambda c, u, m: received.append(json.loads(m.payload))
        sub.connect("127.0.0.1", broker.port)
        sub.subscribe("edge/resilient/events", qos=1)
        sub.loop_start()
        want = {(e["id"], e["phase"]) for e in before}
        assert wait_for(lambda: want <= {(e["id"], e["phase"]) for e in received}, 40), (
            received, (tmp_path / "edge.log").read_text()[-3000:])
        sub.loop_stop()
        sub.disconnect()
    finally:
        sup.stop()
        camera.stop()
        if broker is not None:
            broker.stop()
    # one cat, one event: a start and an end with the same id, delivered in order
    got = [(e["id"], e["phase"]) for e in received if e["phase"] in ("start", "end")]
    ids = {e["id"] for e in before}
    assert len(ids) == 1 and got.index((before[0]["id"], "start")) < got.index((before[0]["id"], "end"))

"""Alert latency: frame capture -> MQTT receipt, next to the detection time of the same frames.

Runs the real pipeline (OpenCV video source -> published SSD v1 -> AlertManager) on a clip
that alternates a cat and an empty background every few frames, so most frames raise a start
or end event; a local Mosquitto and an in-process paho subscriber time each event's arrival
with the same monotonic clock as the frame's capture.

    python bench/alert_latency.py [--frames 240] [--snapshots]

overhead = receipt - detections ready (capture + pipeline "latency"), i.e. everything the
alert path adds: rules + tracker, sink hand-off, SQLite queue, paho, broker, subscriber.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge.alerts import build_alerts  # noqa: E402
from edge.alerts.config import AlertsConfig  # noqa: E402
from edge.core.frame import FrameResult  # noqa: E402
from edge.detector import Detector  # noqa: E402
from edge.pipeline import Pipeline, PipelineOptions  # noqa: E402
from edge.sources.factory import open_source  # noqa: E402

DATA = Path(os.environ.get("EDGE_SHARED_DATA", REPO.parent / "shared" / "data")) / "ssd_mobilenet_v1_coco"


SUBSCRIBER = """
import sys, time
import paho.mqtt.client as mqtt
def on_message(c, u, msg):
    t = time.monotonic()
    sys.stdout.write(f"{t!r} {msg.payload.decode()}\\n")
    sys.stdout.flush()
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-sub")
c.on_message = on_message
c.on_connect = lambda c, *a: c.subscribe("edge/bench/events", qos=1)
c.on_subscribe = lambda *a: print("subscribed", flush=True)
c.connect("127.0.0.1", int(sys.argv[1]))
c.loop_forever()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_clip(path: Path, n: int, period: int = 4) -> None:
    cat = cv2.resize(cv2.imread(str(DATA / "cat.bmp")), (480, 320))
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 12, (640, 360))
    for i in range(n):
        frame = np.full((360, 640, 3), 90, np.uint8)
        if (i // period) % 2 == 1:
            frame[20:340, 80:560] = cat
        w.write(frame)
    w.release()


class Recorder:
    """ResultSink in front of the AlertManager: remembers each frame's capture time and
    detection latency, and times AlertManager.handle on the pipeline thread."""

    def __init__(self, manager) -> None:
        self.manager = manager
        self.frames: dict[int, tuple[float, float]] = {}
        self.handle_ms: list[float] = []

    def handle(self, result: FrameResult) -> None:
        f = result.frame
        self.frames[f.index] = (f.t_capture, f.t_capture + result.timings_ms["latency"] / 1e3)
        t0 = time.perf_counter()
        self.manager.handle(result)
        self.handle_ms.append((time.perf_counter() - t0) * 1e3)

    def close(self) -> None:
        self.manager.close()


def pct(xs: list[float]) -> str:
    p50, p95, p99 = np.percentile(xs, [50, 95, 99])
    return f"p50 {p50:7.2f}  p95 {p95:7.2f}  p99 {p99:7.2f}  (n={len(xs)})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=240)
    ap.add_argument("--snapshots", action="store_true", help="also publish snapshot JPEGs")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--switch-interval-ms", type=float, default=None,
                    help="sys.setswitchinterval for this process (default 5 ms): how long a "
                    "woken sink thread may wait for the GIL held by the pipeline")
    args = ap.parse_args()
    if args.switch_interval_ms is not None:
        sys.setswitchinterval(args.switch_interval_ms / 1e3)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        port = free_port()
        (tmp / "m.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nuser root\n")
        broker = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(tmp / "m.conf")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            # the subscriber is its own process (like the phone or Home Assistant it stands
            # for), so its receipt time does not wait for this process's GIL;
            # CLOCK_MONOTONIC is shared by all processes on the machine
            sub = subprocess.Popen([sys.executable, "-c", SUBSCRIBER, str(port)],
                                   stdout=subprocess.PIPE, text=True)
            assert sub.stdout.readline().strip() == "subscribed"

            clip = tmp / "clip.mp4"
            write_clip(clip, args.frames)
            cfg = AlertsConfig.model_validate({
                "mqtt": {"host": "127.0.0.1", "port": port, "queue_path": str(tmp / "q.db"),
                         "publish_snapshots": args.snapshots},
                "rules": [{"name": "cat", "labels": ["cat"], "min_score": 0.5, "min_frames": 1,
                           "end_after_frames": 1, "cooldown_s": 0, "update_interval_s": 3600}]})
            manager = build_alerts(cfg, "bench")
            while not manager.runners["mqtt"].sink.connected:
                time.sleep(0.01)
            det = Detector.load(DATA / "ssd_mobilenet_v1_coco_quant.tflite",
                                labels=DATA / "labelmap.txt", threads=args.threads)
            rec = Recorder(manager)
            summary = Pipeline(det, open_source(clip), [rec], PipelineOptions()).run()
            time.sleep(0.5)
            sub.terminate()
            receipts: dict[tuple[str, int], tuple[float, dict]] = {}
            for line in sub.stdout.read().splitlines():
                t, payload = line.split(" ", 1)
                e = json.loads(payload)
                receipts.setdefault((e["id"], e["seq"]), (float(t), e))
            broker.terminate()
        finally:
            broker.kill()

    detect, total, overhead = [], [], []
    for (_id, _seq), (t_rx, e) in receipts.items():
        if e["phase"] != "start" or e["frame_index"] not in rec.frames:
            continue  # end messages are stamped on the frame that noticed the absence too,
            # but starts are the alerts users wait for
        t_cap, t_det = rec.frames[e["frame_index"]]
        detect.append((t_det - t_cap) * 1e3)
        total.append((t_rx - t_cap) * 1e3)
        overhead.append((t_rx - t_det) * 1e3)
    ends = [(t_rx - rec.frames[e["frame_index"]][1]) * 1e3 for (t_rx, e) in receipts.values()
            if e["phase"] == "end" and e["frame_index"] in rec.frames]
    print(f"frames {summary['frames']}  FPS {summary['fps']}  events received "
          f"{len(receipts)}  snapshots {'on' if args.snapshots else 'off'}  "
          f"threads {args.threads}  cpus {os.cpu_count()}  GIL switch "
          f"{sys.getswitchinterval() * 1e3:g} ms  load {os.getloadavg()[0]:.1f}")
    print(f"detection (capture -> detections ready)  ms: {pct(detect)}")
    print(f"alert     (capture -> MQTT receipt)      ms: {pct(total)}")
    print(f"overhead  (start: receipt - detections)  ms: {pct(overhead)}")
    print(f"overhead  (end:   receipt - detections)  ms: {pct(ends)}")
    print(f"AlertManager.handle on pipeline thread   ms: {pct(rec.handle_ms)}")
    print(f"ratio alert/detection p50: {np.median(total) / np.median(detect):.3f}")


if __name__ == "__main__":
    main()

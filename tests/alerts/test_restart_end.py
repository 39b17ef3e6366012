"""An event left open by a killed run is ended (reason ``restart``) by the next start (#13).

Real parts: `edge run` as a child process on a live MJPEG camera with a cat always in view,
SIGKILL while its event is active, then the next `edge run` of the same config, a real
Mosquitto and a paho subscriber."""

import json
import signal
import subprocess
import sys

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from edge.cli import cli
from tests.helpers.mjpeg_server import MjpegServer
from tests.helpers.net import free_port


def read_events(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.slow
def test_event_open_at_sigkill_is_ended_on_restart(tmp_path, ssd_dir, broker, subscriber_factory):
    cat = cv2.resize(cv2.imread(str(ssd_dir / "cat.bmp")), (320, 240))
    camera = MjpegServer(free_port(), fps=10, frame_fn=lambda t: cat).start()
    empty = tmp_path / "empty.jpg"
    cv2.imwrite(str(empty), np.full((240, 320, 3), 200, np.uint8))
    cfg = tmp_path / "box.yaml"
    cfg.write_text(f"""
device: crashy
model: {ssd_dir / 'ssd_mobilenet_v1_coco_quant.tflite'}
labels: {ssd_dir / 'labelmap.txt'}
source: {camera.url}
threads: 1
output: {{jsonl: null}}
mqtt: {{host: 127.0.0.1, port: {broker.port}, queue_path: {tmp_path / 'state' / 'queue.db'},
        publish_snapshots: false}}
event_log: {{path: {tmp_path / 'events.jsonl'}}}
rules:
  - {{name: cat, labels: [cat], min_score: 0.5, min_frames: 2, cooldown_s: 0}}
""")
    sub = subscriber_factory(broker.port, ["edge/crashy/events"])
    log = tmp_path / "edge.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", "from edge.cli import main; main()",
                                 "run", "--config", str(cfg)], stdout=out, stderr=subprocess.STDOUT)
    try:
        assert sub.wait_for(lambda s: any(m.json()["phase"] == "start" for m in s.messages), 40), \
            log.read_text()[-3000:]
        proc.send_signal(signal.SIGKILL)  # OOM / power cut: no shutdown end is sent
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        camera.stop()
    started = next(m.json() for m in sub.messages if m.json()["phase"] == "start")
    assert not any(m.json()["phase"] == "end" for m in sub.messages)

    # the next start (on a frame without the cat) ends it before its first frame
    run = ["-q", "run", "--config", str(cfg), "--source", str(empty), "--max-frames", "1"]
    res = CliRunner().invoke(cli, run)
    assert res.exit_code == 0, res.output
    assert sub.wait_for(lambda s: any(m.json()["phase"] == "end" for m in s.messages), 20)
    end = next(m.json() for m in sub.messages if m.json()["phase"] == "end")
    assert end["id"] == started["id"] and end["end_reason"] == "restart"
    assert end["seq"] > max(m.json()["seq"] for m in sub.messages if m.json()["id"] == end["id"]
                            and m.json()["phase"] != "end")
    logged = [e for e in read_events(tmp_path / "events.jsonl") if e["phase"] == "end"]
    assert [(e["id"], e["end_reason"]) for e in logged] == [(started["id"], "restart")]
    assert (tmp_path / "state" / "crashy-open-events.json").is_file()  # beside the queue

    # ended once: a further start sends nothing for it
    res = CliRunner().invoke(cli, run)
    assert res.exit_code == 0, res.output
    ends = [e for e in read_events(tmp_path / "events.jsonl") if e["phase"] == "end"]
    assert len(ends) == 1

"""End to end: `edge run --config` on a video the test writes, the published SSD v1 model, a
real Mosquitto, gpiozero MockFactory pins, snapshot and event-log files."""

import json

import cv2
import jsonschema
import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from gpiozero import Device

from edge.cli import cli
from tests.alerts.conftest import EVENT_SCHEMA
from tests.alerts.test_sinks import high_intervals

FPS, SIZE_WH = 12, (640, 360)


def write_clip(path, cat, seconds=6.0, cat_from=2.0, cat_to=4.0):
    """Plain background; the cat pasted for frames in [cat_from, cat_to) seconds."""
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE_WH)
    for i in range(int(seconds * FPS)):
        frame = np.full((SIZE_WH[1], SIZE_WH[0], 3), 90, np.uint8)
        if cat_from * FPS <= i < cat_to * FPS:
            frame[20:340, 80:560] = cv2.resize(cat, (480, 320))
        w.write(frame)
    w.release()


@pytest.mark.slow
def test_edge_run_config_one_start_one_end_snapshot_gpio_log_mqtt(
        ssd_dir, broker, subscriber_factory, tmp_path, monkeypatch):
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    previous_factory = Device.pin_factory
    Device.pin_factory = None  # let gpiozero build the MockFactory from the environment
    clip = tmp_path / "clip.mp4"
    write_clip(clip, cv2.imread(str(ssd_dir / "cat.bmp")))
    cfg = {
        "device": "porch",
        "model": str(ssd_dir / "ssd_mobilenet_v1_coco_quant.tflite"),
        "labels": str(ssd_dir / "labelmap.txt"),
        "source": str(clip),
        "score": 0.5,
        "mqtt": {"host": "127.0.0.1", "port": broker.port, "queue_path": "q.db"},
        "rules": [{"name": "cat-on-porch", "labels": ["cat"], "min_score": 0.6,
                   "zone": [[0.0, 0.3], [1.0, 0.3], [1.0, 1.0], [0.0, 1.0]],
                   "min_frames": 3, "end_after_frames": 10, "cooldown_s": 30,
                   "update_interval_s": 0.5,
                   "outputs": ["mqtt", "buzzer", "snapshot", "event_log"]}],
        "gpio": {"buzzer": {"pin": 17, "mode": "pulse", "seconds": 0.5}},
        "snapshots": {"dir": "snaps", "keep": 10, "crop": True},
        "event_log": {"path": "events.jsonl"},
    }
    (tmp_path / "porch.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    sub = subscriber_factory(broker.port, ["edge/porch/#"])
    try:
        res = CliRunner().invoke(cli, ["-q", "run", "--config", str(tmp_path / "porch.yaml")])
        assert res.exit_code == 0, res.output
        pin = Device.pin_factory.pin(17)
        pulses = high_intervals(pin)
    finally:
        Device.pin_factory.reset()
        Device.pin_factory = previous_factory

    log = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    phases = [e["phase"] for e in log]
    assert phases.count("start") == 1 and phases.count("end") == 1, phases
    assert phases[0] == "start" and phases[-1] == "end"
    start, end = log[0], log[-1]
    assert start["label"] == "cat" and start["best_score"] > 0.6
    assert 24 + 2 <= start["frame_index"] <= 24 + 6  # 3rd consecutive cat frame (+ misses)
    assert end["end_reason"] == "gone" and 20 <= end["frame_count"] <= 24  # cat on 24 frames
    # the cat box in pixels of the 640x360 camera frame, around where it was pasted
    x1, y1, x2, y2 = end["best_box_px"]
    assert x1 < 200 and x2 > 400 and y2 > 250
    assert phases.count("update") <= (end["time"] - start["time"]) / 0.5 + 1

    snaps = sorted((tmp_path / "snaps").glob("*.jpg"))
    assert len(snaps) == 2 and any(p.stem.endswith("-crop") for p in snaps)
    assert cv2.imread(str([p for p in snaps if not p.stem.endswith("-crop")][0])).shape == (360, 640, 3)

    ((t_on, t_off),) = pulses
    assert 0.49 <= t_off - t_on <= 0.5 + 0.4  # late under load, never early

    assert sub.wait_for(lambda s: len(s.on("edge/porch/events")) == len(log), 5)
    mq = [m.json() for m in sub.on("edge/porch/events")]
    for e in mq:
        jsonschema.validate(e, json.loads(EVENT_SCHEMA.read_text()))
    assert [(e["id"], e["seq"]) for e in mq] == [(e["id"], e["seq"]) for e in log]
    assert sub.on("edge/porch/snapshot/cat")[0].payload[:2] == b"\xff\xd8"
    assert [m.payload for m in sub.on("edge/porch/availability")] == [b"online", b"offline"]

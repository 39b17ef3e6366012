"""Killing the camera raises camera_stalled on the retained health topic; it clears when the
camera comes back. End to end: `edge run --config` as a child process (with an mqtt section
it runs under the fleet supervisor, which attaches health to each pipeline it builds) on a
real MJPEG camera, a real Mosquitto, and a paho subscriber reading the retained messages."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from edge.defaults import default_model
from tests.health.conftest import HEALTH_TOPIC, health, latest_on
from tests.helpers.mjpeg_server import MjpegServer
from tests.helpers.net import free_port, wait_for

STALL_S = 2.0


@pytest.mark.slow
def test_dead_camera_raises_camera_stalled_and_reconnect_clears_it(tmp_path, broker,
                                                                   subscriber_factory):
    model, labels = default_model()
    port = free_port()
    camera = MjpegServer(port, fps=10).start()
    cfg = tmp_path / "box.yaml"
    cfg.write_text(f"""
device: hbox
model: {model}
labels: {labels}
source: {camera.url}
threads: 1
stats_interval_s: 0.5
output: {{jsonl: null}}
mqtt: {{host: 127.0.0.1, port: {broker.port}, queue_path: {tmp_path / 'queue.db'},
        reconnect_min_s: 0.2, reconnect_max_s: 0.5}}
home_assistant: {{discovery: true}}
health: {{camera_stall_s: {STALL_S}, detector_stall_s: 5, check_interval_s: 0.25,
          thermal_path: null, vcgencmd: null}}
""")
    sub = subscriber_factory(broker.port, [HEALTH_TOPIC, "edge/hbox/stats"])
    log = tmp_path / "edge.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", "from edge.cli import main; main()", "run",
                                 "--config", str(cfg)], stdout=out, stderr=subprocess.STDOUT)
    try:
        def why():
            return f"health: {health(sub)}\nlog:\n{log.read_text()[-3000:]}"

        # running: the first health message says all is well, and frames flow (the stats
        # go out through the MQTT sink health made: this config has no rules)
        assert sub.wait_for(lambda s: latest_on(s, "camera_stalled") is False, 40), why()
        assert health(sub)[-1]["ok"] is True
        assert sub.wait_for(lambda s: any(m.json()["frames"] >= 5
                                          for m in s.on("edge/hbox/stats")), 30), why()
        camera.stop()  # the camera dies mid-run
        t_kill = time.monotonic()
        assert sub.wait_for(lambda s: latest_on(s, "camera_stalled") is True, 15), why()
        raised_after = time.monotonic() - t_kill
        on = health(sub)[-1]
        assert on["ok"] is False and "camera_stalled" in on["problems"]
        assert camera.url in on["states"]["camera_stalled"]["detail"]
        time.sleep(1.0)
        camera = MjpegServer(port, fps=10).start()  # ...and comes back
        assert sub.wait_for(lambda s: latest_on(s, "camera_stalled") is False, 30), why()
        off = health(sub)[-1]
        assert off["ok"] is True and off["states"]["camera_stalled"]["detail"] == "frames arriving"
        assert off["states"]["camera_stalled"]["since"] > on["states"]["camera_stalled"]["since"]
    finally:
        proc.terminate()
        proc.wait(20)
        camera.stop()
    # within the configured time (plus one check interval and the stream's read timeout)
    assert raised_after < STALL_S + 8
    # a subscriber arriving now gets the last state, retained
    late = subscriber_factory(broker.port, [HEALTH_TOPIC], client_id="late")
    assert late.wait_for(lambda s: s.on(HEALTH_TOPIC), 5)
    (msg,) = late.on(HEALTH_TOPIC)
    assert msg.retain and msg.json()["states"]["camera_stalled"]["on"] is False
    text = log.read_text()
    assert "health: camera_stalled ON:" in text and "health: camera_stalled cleared after" in text


@pytest.mark.slow
def test_frozen_camera_raises_camera_stalled_by_time(tmp_path, broker, subscriber_factory):
    """A camera that keeps the connection open but stops sending (a frozen IP camera): no
    disconnect to see, only the time since the last frame. In-process, through
    ``edge.health.attach`` as a supervisor would call it."""
    import threading

    import numpy as np

    from edge.app import RunSettings, build_pipeline
    from edge.health import attach
    from tests.health.conftest import make_config, run_in_thread

    flowing = threading.Event()
    flowing.set()
    grey = np.full((240, 320, 3), 128, np.uint8)

    def frame(_t):
        flowing.wait()  # the server's send loop blocks here while frozen
        return grey

    camera = MjpegServer(free_port(), fps=10, frame_fn=frame).start()
    cfg = make_config(tmp_path, camera.url, broker.port)
    sub = subscriber_factory(broker.port, [HEALTH_TOPIC])
    pipeline = build_pipeline(RunSettings.from_config(cfg))
    h = attach(pipeline, cfg)
    assert h is not None and h.owns_mqtt  # no rules: health made the MQTT sink itself
    t, result = run_in_thread(pipeline)
    try:
        assert sub.wait_for(lambda s: latest_on(s, "camera_stalled") is False, 20)
        assert wait_for(lambda: pipeline.stats.frames >= 5, 20)
        flowing.clear()
        t_freeze = time.monotonic()
        assert sub.wait_for(lambda s: latest_on(s, "camera_stalled") is True, 15), health(sub)
        raised_after = time.monotonic() - t_freeze
        detail = health(sub)[-1]["states"]["camera_stalled"]["detail"]
        assert detail.startswith(f"{camera.url}: no new frame for ") and "camera_stall_s 2" in detail
        flowing.set()
        assert sub.wait_for(lambda s: latest_on(s, "camera_stalled") is False, 30), health(sub)
    finally:
        flowing.set()
        pipeline.stop()
        t.join(20)
        camera.stop()
    assert "error" not in result, result
    # not before the configured time (less the last frames already on their way), nor long after
    assert STALL_S - 0.5 <= raised_after < STALL_S + 3
    assert h._closed and not h.monitor._thread.is_alive()  # the pipeline closed it

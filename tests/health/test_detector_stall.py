"""A hung invoke raises detector_stalled (and clears when it returns); an invoke that fails
ends the run with delegate_lost on the retained health topic.

Real camera (MJPEG on loopback), real model and interpreter, real Mosquitto. The fault is
injected: the real backend's ``invoke`` is wrapped so it waits on an Event (a stall, as a
wedged Edge TPU does) or raises (as an unplugged one does); the wrapper then calls the real
invoke.
"""

from __future__ import annotations

import threading
import time

import pytest

from edge.app import RunSettings, build_pipeline
from edge.health import attach
from tests.health.conftest import HEALTH_TOPIC, health, latest_on, make_config, run_in_thread
from tests.helpers.net import wait_for


def wait_frames(pipeline, n, timeout=20.0):
    return wait_for(lambda: pipeline.stats.frames >= n, timeout)


@pytest.mark.slow
def test_hung_invoke_raises_detector_stalled_and_clears(tmp_path, camera, broker, subscriber_factory):
    cfg = make_config(tmp_path, camera.url, broker.port)
    sub = subscriber_factory(broker.port, [HEALTH_TOPIC])
    pipeline = build_pipeline(RunSettings.from_config(cfg))
    backend = pipeline.detector.backend
    real_invoke = backend.invoke
    flowing = threading.Event()
    flowing.set()

    def invoke(tensor):  # injected stall
        flowing.wait()
        return real_invoke(tensor)

    backend.invoke = invoke
    attach(pipeline, cfg)
    t, result = run_in_thread(pipeline)
    try:
        assert wait_frames(pipeline, 5)
        assert sub.wait_for(lambda s: latest_on(s, "detector_stalled") is False, 10)
        flowing.clear()
        t_stall = time.monotonic()
        assert sub.wait_for(lambda s: latest_on(s, "detector_stalled") is True, 15), health(sub)
        raised_after = time.monotonic() - t_stall
        msg = health(sub)[-1]
        assert msg["problems"] == ["detector_stalled"]  # the camera is fine meanwhile
        assert "for the model (detector_stall_s 2)" in msg["states"]["detector_stalled"]["detail"]
        frames = pipeline.stats.frames
        flowing.set()
        assert sub.wait_for(lambda s: latest_on(s, "detector_stalled") is False, 15), health(sub)
        assert wait_frames(pipeline, frames + 3)
    finally:
        flowing.set()
        pipeline.stop()
        t.join(20)
    assert "error" not in result, result
    assert raised_after < 2.0 + 3


def test_failing_invoke_reports_delegate_lost(tmp_path, camera, broker, subscriber_factory):
    cfg = make_config(tmp_path, camera.url, broker.port)
    sub = subscriber_factory(broker.port, [HEALTH_TOPIC])
    pipeline = build_pipeline(RunSettings.from_config(cfg))
    backend = pipeline.detector.backend
    real_invoke = backend.invoke
    broken = threading.Event()

    def invoke(tensor):  # injected failure, the message an unplugged Edge TPU gives
        if broken.is_set():
            raise RuntimeError("Failed to invoke: Could not read from USB device (-9)")
        return real_invoke(tensor)

    backend.invoke = invoke
    h = attach(pipeline, cfg)
    t, result = run_in_thread(pipeline)
    assert wait_frames(pipeline, 3)
    broken.set()
    t.join(20)
    assert isinstance(result.get("error"), RuntimeError)
    # the last check, made as the pipeline closed, went out before the MQTT sink closed
    assert h._closed
    assert sub.wait_for(lambda s: latest_on(s, "delegate_lost") is True, 10), health(sub)
    assert health(sub)[-1]["states"]["delegate_lost"]["detail"] == (
        "cpu invoke failed: Failed to invoke: Could not read from USB device (-9)")

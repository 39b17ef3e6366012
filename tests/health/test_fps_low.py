"""fps_low follows the frame rate over the window: a camera that slows to 2 FPS raises it,
back at 10 FPS clears it. Real MJPEG camera (its send rate changed mid-run), real model."""

from __future__ import annotations

import time

import pytest

from edge.app import RunSettings, build_pipeline
from edge.health import attach
from tests.health.conftest import make_config, run_in_thread
from tests.helpers.net import wait_for


@pytest.mark.slow
def test_slow_camera_raises_fps_low_and_clears(tmp_path, camera):
    cfg = make_config(tmp_path, camera.url, health={"min_fps": 5, "fps_window_s": 1.5})
    pipeline = build_pipeline(RunSettings.from_config(cfg))
    h = attach(pipeline, cfg)
    states = h.monitor.states
    t, result = run_in_thread(pipeline)
    try:
        # checks every 0.25 s: 10 of them span more than the 1.5 s window at 10 FPS
        assert wait_for(lambda: h.monitor.counts["checks"] >= 10, 20)
        fps = h.monitor.snapshot(time.monotonic()).fps
        assert fps is not None and fps >= 5, fps  # a full window, at the camera's rate
        assert not states.is_on("fps_low"), states.states["fps_low"]
        camera.fps = 2.0  # the camera slows down (a dark scene's long exposure, a weak link)
        assert wait_for(lambda: states.is_on("fps_low"), 15), states.states["fps_low"]
        detail = states.states["fps_low"].detail
        assert detail.endswith("FPS over 1.5 s < min_fps 5"), detail
        camera.fps = 10.0
        assert wait_for(lambda: not states.is_on("fps_low"), 15), states.states["fps_low"]
    finally:
        pipeline.stop()
        t.join(20)
    assert "error" not in result, result

"""Health rules that need no live camera: Pi temperature and throttling, the delegate, the
FPS window, the payload, and config errors.

The Pi's sensors cannot exist on this machine, so (and only for them) the test points the
configured paths at stand-ins: a temp file in the thermal zone format, and a `vcgencmd`
script that prints what the Pi firmware prints. Everything else is the real pipeline on the
embedded model.
"""

from __future__ import annotations

import json
import stat

import pytest

from edge.app import RunSettings, build_pipeline
from edge.config import load_config
from edge.defaults import COCO_SAMPLE
from edge.health.checks import Snapshot, evaluate
from edge.health.config import HealthConfig
from edge.health.fps import FpsWindow
from edge.health.monitor import HealthMonitor
from edge.health.states import STATES
from edge.yamlconf import ConfigError
from tests.health.conftest import DEVICE, make_config


@pytest.fixture
def pipeline(tmp_path):
    return build_pipeline(RunSettings.from_config(make_config(tmp_path, str(COCO_SAMPLE))))


def test_temperature_file_raises_and_clears_throttled(pipeline, tmp_path):
    temp = tmp_path / "temp"  # stands in for /sys/class/thermal/thermal_zone0/temp
    temp.write_text("50000\n")
    cfg = HealthConfig(thermal_path=temp, vcgencmd=None, temp_max_c=80)
    mon = HealthMonitor(pipeline, cfg, DEVICE)
    assert mon.check() == []  # 50 °C: nothing to report
    assert mon.states.states["throttled"].detail == "SoC 50.0 °C"
    temp.write_text("85000\n")
    (t,) = [t for t in mon.check() if t.name == "throttled"]
    assert t.on and "SoC 85.0 °C (temp_max_c 80)" in t.detail
    temp.write_text("78500\n")  # below the limit but within the 3 °C hysteresis: still on
    assert not [t for t in mon.check() if t.name == "throttled"]
    assert mon.states.is_on("throttled")
    temp.write_text("50000\n")
    (t,) = [t for t in mon.check() if t.name == "throttled"]
    assert not t.on and t.detail == "SoC 50.0 °C"
    payload = mon.states.payload(DEVICE)
    assert payload["states"]["throttled"] == {"on": False, "since": pytest.approx(payload["time"], abs=1),
                                              "detail": "SoC 50.0 °C"}


def test_vcgencmd_throttled_bits(pipeline, tmp_path, caplog):
    answer = tmp_path / "answer"
    tool = tmp_path / "vcgencmd"  # stands in for the Pi firmware tool; same output format
    tool.write_text(f"#!/bin/sh\n[ \"$1\" = get_throttled ] || exit 2\ncat {answer}\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    cfg = HealthConfig(thermal_path=None, vcgencmd=str(tool))
    mon = HealthMonitor(pipeline, cfg, DEVICE)
    answer.write_text("throttled=0x50000\n")  # happened since boot, not now: fine
    mon.check()
    assert not mon.states.is_on("throttled")
    answer.write_text("throttled=0x50005\n")  # under-voltage + throttled now
    mon.check()
    assert mon.states.is_on("throttled")
    assert mon.states.states["throttled"].detail == (
        "vcgencmd get_throttled=0x50005: under-voltage, throttled")
    answer.write_text("garbage\n")  # a broken tool is logged, not taken for a healthy Pi
    mon.check()
    assert mon.states.is_on("throttled")  # the last good reading said throttled
    assert f"health.vcgencmd {tool} get_throttled: expected 'throttled=0x...', got 'garbage'" \
        in caplog.text
    answer.write_text("throttled=0x0\n")
    mon.check()
    assert not mon.states.is_on("throttled")


def test_garbled_thermal_file_is_named(pipeline, tmp_path):
    temp = tmp_path / "temp"
    temp.write_text("hot\n")
    mon = HealthMonitor(pipeline, HealthConfig(thermal_path=temp, vcgencmd=None), DEVICE)
    mon.check()
    detail = mon.states.states["throttled"].detail
    assert not mon.states.is_on("throttled")
    assert detail == (f"unknown: health.thermal_path {temp}: expected millidegrees C (an "
                      "integer such as 48312), got 'hot'")


def test_delegate_asked_for_but_not_running(pipeline):
    # the config asks for the Edge TPU; this machine has none, so the model runs on the CPU:
    # exactly the state a box is in after its Coral fell off the bus and it restarted on CPU
    mon = HealthMonitor(pipeline, HealthConfig(thermal_path=None, vcgencmd=None), DEVICE,
                        delegate="edgetpu")
    (t,) = [t for t in mon.check() if t.name == "delegate_lost"]
    assert t.on and t.detail == "configured delegate edgetpu but the model runs on cpu"


def test_first_check_sets_every_state_and_payload_is_json(pipeline):
    mon = HealthMonitor(pipeline, HealthConfig(thermal_path=None, vcgencmd=None), DEVICE)
    assert mon.check() == []
    payload = json.loads(json.dumps(mon.states.payload(DEVICE)))
    assert list(payload["states"]) == list(STATES)
    assert payload["ok"] is True and payload["problems"] == [] and payload["device"] == DEVICE
    assert payload["states"]["fps_low"]["detail"] == "not checked (health.min_fps not set)"
    assert payload["states"]["throttled"]["detail"] == "no thermal sensor or vcgencmd here"


def test_fps_window_needs_a_full_window():
    w = FpsWindow(10.0)
    assert w.sample(100.0, 0) is None
    assert w.sample(105.0, 50) is None
    assert w.sample(110.0, 100) == pytest.approx(10.0)
    assert w.sample(116.0, 103) == pytest.approx((103 - 50) / 11)  # oldest kept: t=105


def test_rules_on_snapshots():
    cfg = HealthConfig(camera_stall_s=5, detector_stall_s=5, min_fps=4, queue_full_ratio=0.5,
                       disk_min_free_mb=100)
    ok = Snapshot(now=100.0, started_at=0.0, capture_running=True, last_frame_at=99.9,
                  last_detect_at=99.95, fps=10.0, queue_len=3, queue_max=10, queue_bytes=10,
                  queue_max_bytes=1000, disk_free_mb=5000, disk_path="/var")
    assert not any(on for on, _ in evaluate(ok, cfg, {}).values())
    dead_camera = Snapshot(**{**ok.__dict__, "last_frame_at": 90.0, "last_detect_at": 90.1})
    r = evaluate(dead_camera, cfg, {})
    # a dead camera is not a dead detector: nothing waited for the model
    assert r["camera_stalled"] == (True, "camera: no new frame for 10.0 s (camera_stall_s 5)")
    assert r["detector_stalled"][0] is False
    hung = Snapshot(**{**ok.__dict__, "pending_since": 93.0, "last_detect_at": 92.9})
    assert evaluate(hung, cfg, {})["detector_stalled"] == (
        True, "a frame has waited 7.0 s for the model (detector_stall_s 5); the last came out "
        "7.1 s ago")
    assert evaluate(hung, cfg, {})["camera_stalled"][0] is False
    full = Snapshot(**{**ok.__dict__, "queue_len": 6, "disk_free_mb": 50})
    on, detail = evaluate(full, cfg, {})["queue_full"]
    assert on and "MQTT queue 6/10 messages" in detail and "50 MB free on /var" in detail
    slow = Snapshot(**{**ok.__dict__, "fps": 2.5})
    assert evaluate(slow, cfg, {})["fps_low"] == (True, "2.50 FPS over 30 s < min_fps 4")


def test_bad_health_config_names_the_field(tmp_path):
    cfg = tmp_path / "box.yaml"
    cfg.write_text("model: m.tflite\nhealth:\n  camera_stall_s: 1\n  check_interval_s: 5\n"
                   "  queue_full_ratio: 2\n")
    with pytest.raises(ConfigError) as e:
        load_config(cfg)
    msg = str(e.value)
    assert "health.queue_full_ratio" in msg and "less than or equal to 1" in msg
    cfg.write_text("model: m.tflite\nhealth:\n  camera_stall_s: 1\n  check_interval_s: 5\n")
    with pytest.raises(ConfigError, match=r"check_interval_s \(5.0\) must not exceed "
                       r"camera_stall_s / detector_stall_s \(1.0\)"):
        load_config(cfg)

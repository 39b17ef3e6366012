"""Local sinks with real components: gpiozero MockFactory pins, files, a real HTTP server."""

import http.server
import json
import logging
import threading
import time

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from edge.alerts import build_alerts
from edge.alerts.config import AlertsConfig, EventLogConfig, GpioOutputConfig, SnapshotConfig
from edge.alerts.engine import RuleEngine
from edge.alerts.sinks.gpio import GpioSink
from edge.alerts.sinks.jsonl import EventLogSink
from edge.alerts.sinks.snapshot import SnapshotSink
from tests.alerts.conftest import Clock

BOX = [[0.3, 0.4, 0.5, 0.9]]
RULE = {"name": "yard", "labels": ["raccoon"], "min_frames": 1, "end_after_frames": 2,
        "cooldown_s": 0}


@pytest.fixture
def mock_pins():
    previous = Device.pin_factory
    Device.pin_factory = MockFactory()
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = previous


def events(n_frames=3, rule=None):
    """start ... end messages of one event."""
    from edge.alerts.config import RuleConfig

    eng, c = RuleEngine(RuleConfig(**(rule or RULE)), "dev"), Clock()
    out = []
    for _ in range(n_frames):
        out += eng.step(*_fd(c.result(BOX, ["raccoon"])))
    for _ in range(3):
        out += eng.step(*_fd(c.result()))
    return out


def _fd(r):
    return r.frame, r.detections


def high_intervals(pin, active_high=True):
    """[(t_on, t_off)] from a MockPin's recorded states (t_off None while still on).
    MockPin records each state with the time since the previous change."""
    out, on, t = [], None, 0.0
    for st in pin.states:
        t += st.timestamp
        active = st.state if active_high else not st.state
        if active and on is None:
            on = t
        elif not active and on is not None:
            out.append((on, t))
            on = None
    if on is not None:
        out.append((on, None))
    return out


def test_gpio_pulse_is_on_for_the_configured_time(mock_pins):
    sink = GpioSink("buzzer", GpioOutputConfig(pin=17, mode="pulse", seconds=0.3))
    for e in events():
        sink.publish(e)
    assert sink.is_on
    sink.close()  # lets the pulse finish
    ((t_on, t_off),) = high_intervals(mock_pins.pin(17))
    # timers fire late under load, never early: a tight floor, a loose ceiling
    assert 0.29 <= t_off - t_on <= 0.3 + 0.4


def test_gpio_hold_active_low_follows_the_event(mock_pins):
    sink = GpioSink("relay", GpioOutputConfig(pin=22, active_high=False, mode="hold"))
    evs = events()
    sink.publish(evs[0])
    pin = mock_pins.pin(22)
    assert pin.state is False and sink.is_on  # active low: on = pin low
    for e in evs[1:]:
        sink.publish(e)
    assert pin.state is True and not sink.is_on
    sink.close()


def test_gpio_button_acknowledges_and_silences(mock_pins):
    cfg = GpioOutputConfig(pin=17, mode="hold", button={"pin": 27, "silence_s": 30})
    sink = GpioSink("buzzer", cfg)
    evs = events()
    sink.publish(evs[0])
    assert sink.is_on
    mock_pins.pin(27).drive_low()  # press (pull-up: pressed = low)
    time.sleep(0.05)
    assert not sink.is_on and sink.acks == 1
    sink.publish(events()[0])  # another event while silenced
    assert not sink.is_on and sink.silenced == 1
    sink.close()


def test_gpio_without_hardware_says_so(monkeypatch):
    previous = Device.pin_factory
    Device.pin_factory = None
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    try:
        with pytest.raises(RuntimeError, match=r"gpio.buzzer: this machine has no usable GPIO.*"
                           r"GPIOZERO_PIN_FACTORY=mock"):
            GpioSink("buzzer", GpioOutputConfig(pin=17))
    finally:
        Device.pin_factory = previous


def test_event_log_rotates_and_keeps_backups(tmp_path):
    sink = EventLogSink(EventLogConfig(path=tmp_path / "ev.jsonl", max_mb=0.002, backups=2))
    for _ in range(8):
        for e in events():
            sink.publish(e)
    sink.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["ev.jsonl", "ev.jsonl.1", "ev.jsonl.2"]
    for f in tmp_path.iterdir():
        assert f.stat().st_size <= 2100
        for line in f.read_text().splitlines():
            assert json.loads(line)["rule"] == "yard"


def test_snapshots_full_and_crop_with_retention(tmp_path):
    (tmp_path / "notes.txt").write_text("not ours")
    sink = SnapshotSink(SnapshotConfig(dir=tmp_path, keep=5, crop=True, full=True))
    for _ in range(4):
        for e in events():
            sink.publish(e)
    jpgs = sorted(p for p in tmp_path.glob("*.jpg"))
    assert len(jpgs) == 5 and sink.deleted == 3
    assert (tmp_path / "notes.txt").exists()
    import cv2

    full = [p for p in jpgs if not p.stem.endswith("-crop")][-1]
    crop = [p for p in jpgs if p.stem.endswith("-crop")][-1]
    assert cv2.imread(str(full)).shape == (480, 640, 3)
    h, w = cv2.imread(str(crop)).shape[:2]
    assert (w, h) == pytest.approx((128 * 1.3, 240 * 1.3), abs=2)  # box 128x240 px + 15% a side


class _Hook(http.server.BaseHTTPRequestHandler):
    fail_first = 2
    bodies: list = []

    def do_POST(self):  # noqa: N802 - http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if _Hook.fail_first > 0:
            _Hook.fail_first -= 1
            self.send_response(503)
        else:
            _Hook.bodies.append((json.loads(body), self.headers.get("X-Token")))
            self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


def test_webhook_retries_until_delivered_and_failures_are_counted(tmp_path, caplog):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cfg = AlertsConfig.model_validate({
            "webhooks": {"hook": {"url": f"http://127.0.0.1:{server.server_port}/ev",
                                  "headers": {"X-Token": "t"}, "retries": 3, "backoff_s": 0.05,
                                  "phases": ["start", "end"]}},
            "rules": [RULE]})
        mgr = build_alerts(cfg, "dev")
        c = Clock()
        with caplog.at_level(logging.ERROR):
            for _ in range(3):
                mgr.handle(c.result(BOX, ["raccoon"]))
            for _ in range(3):
                mgr.handle(c.result())
            mgr.close()
        assert [(b["phase"], tok) for b, tok in _Hook.bodies] == [("start", "t"), ("end", "t")]
        st = mgr.stats()["sinks"]["hook"]
        assert st["errors"] == 2 and st["retried"] == 2 and st["failed"] == 0 and st["sent"] == 2
        assert sum("HTTP 503" in r.message for r in caplog.records) == 2
    finally:
        server.shutdown()


def test_a_broken_sink_is_counted_logged_retried_and_never_stops_detection(tmp_path, caplog):
    cfg = AlertsConfig.model_validate({
        "webhooks": {"dead": {"url": "http://127.0.0.1:9/", "retries": 1, "backoff_s": 0.01,
                              "timeout_s": 0.5}},
        "event_log": {"path": str(tmp_path / "ev.jsonl")},
        "rules": [RULE]})
    mgr = build_alerts(cfg, "dev")
    c = Clock()
    t0 = time.perf_counter()
    for _ in range(3):
        mgr.handle(c.result(BOX, ["raccoon"]))
    mgr.handle(c.result())
    mgr.handle(c.result())
    handle_s = time.perf_counter() - t0
    mgr.close()
    st = mgr.stats()["sinks"]
    assert handle_s < 0.2
    assert st["dead"]["failed"] == 2 and st["dead"]["errors"] == 4  # 2 messages x 2 attempts
    assert st["event_log"]["published"] == 2  # the other sink is unaffected
    assert any("giving up" in r.message for r in caplog.records)
    assert any("lost after retries" in r.message for r in caplog.records)

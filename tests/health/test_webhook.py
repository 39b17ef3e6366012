"""health.webhooks: every transition is POSTed (the health JSON + what changed) to a
configured webhook. Real HTTP server on loopback, real pipeline on a live MJPEG camera;
the Pi's thermal zone file, which cannot exist here, is a temp file the test writes."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from edge.app import RunSettings, build_pipeline
from edge.health import attach
from tests.health.conftest import make_config, run_in_thread
from tests.helpers.net import wait_for


@pytest.fixture
def receiver():
    """An HTTP endpoint collecting POSTed JSON bodies; the first answer is a 503 (the
    notifier must retry)."""
    got: list[dict] = []
    calls = {"n": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            calls["n"] += 1
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if calls["n"] == 1:
                self.send_response(503)
                self.end_headers()
                return
            got.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", got, calls
    server.shutdown()
    server.server_close()


def test_transitions_are_posted_in_order(tmp_path, camera, receiver):
    url, got, calls = receiver
    temp = tmp_path / "temp"  # stands in for /sys/class/thermal/thermal_zone0/temp
    temp.write_text("50000\n")
    cfg = make_config(tmp_path, camera.url,
                      webhooks={"ops": {"url": url, "retries": 2, "backoff_s": 0.1}},
                      health={"thermal_path": str(temp), "webhooks": ["ops"]})
    pipeline = build_pipeline(RunSettings.from_config(cfg))
    h = attach(pipeline, cfg)
    t, result = run_in_thread(pipeline)
    try:
        assert wait_for(lambda: h.monitor.counts["checks"] >= 1, 10)
        temp.write_text("85000\n")
        assert wait_for(lambda: len(got) >= 1, 10), (calls, h.outputs[0].counts)
        temp.write_text("50000\n")
        assert wait_for(lambda: len(got) >= 2, 10), (calls, h.outputs[0].counts)
    finally:
        pipeline.stop()
        t.join(20)
    assert "error" not in result, result
    on, off = got[:2]
    assert on["changed"] == [{"state": "throttled", "on": True,
                              "detail": "SoC 85.0 °C (temp_max_c 80)"}]
    assert on["problems"] == ["throttled"] and on["device"] == "hbox"
    assert off["changed"] == [{"state": "throttled", "on": False, "detail": "SoC 50.0 °C"}]
    assert off["ok"] is True
    assert h.outputs[0].counts == {"sent": 2, "retried": 1, "failed": 0, "overflow": 0}


def test_unknown_webhook_name_is_one_line_error(tmp_path, camera):
    cfg = make_config(tmp_path, camera.url, health={"webhooks": ["pager"]})
    pipeline = build_pipeline(RunSettings.from_config(cfg))
    with pytest.raises(ValueError, match=r"^health.webhooks: \['pager'\] not configured under "
                       r"webhooks: \(configured: none\)$"):
        attach(pipeline, cfg)


@pytest.fixture
def mock_pins():
    """gpiozero's MockFactory: this machine has no GPIO header (as in tests/alerts)."""
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    previous = Device.pin_factory
    Device.pin_factory = MockFactory()
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = previous


def test_gpio_output_holds_while_a_problem_is_on(tmp_path, camera, mock_pins):
    temp = tmp_path / "temp"  # stands in for /sys/class/thermal/thermal_zone0/temp
    temp.write_text("50000\n")
    cfg = make_config(tmp_path, camera.url,
                      gpio={"health_led": {"pin": 17, "mode": "hold"}},
                      health={"thermal_path": str(temp), "gpio": ["health_led"]})
    pipeline = build_pipeline(RunSettings.from_config(cfg))
    h = attach(pipeline, cfg)
    pin = mock_pins.pin(17)
    t, result = run_in_thread(pipeline)
    try:
        assert wait_for(lambda: h.monitor.counts["checks"] >= 1, 10)
        assert pin.state is False
        temp.write_text("85000\n")
        assert wait_for(lambda: pin.state is True, 10)
        temp.write_text("50000\n")
        assert wait_for(lambda: pin.state is False, 10)
    finally:
        pipeline.stop()
        t.join(20)
    assert "error" not in result, result
    assert h._closed and pin.state is False


def test_unknown_gpio_name_is_one_line_error(tmp_path, camera):
    cfg = make_config(tmp_path, camera.url, health={"gpio": ["led"]})
    pipeline = build_pipeline(RunSettings.from_config(cfg))
    with pytest.raises(ValueError, match=r"^health.gpio: \['led'\] not configured under gpio: "
                       r"\(configured: none\)$"):
        attach(pipeline, cfg)

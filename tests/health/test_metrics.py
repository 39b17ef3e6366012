"""Prometheus /metrics: scraped over HTTP during a real run (MJPEG camera with a cat, the
embedded model, a rule to MQTT on a real Mosquitto) and parsed with prometheus-client's own
text parser. Also: the one-line errors when the extra is missing or the port is taken."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from edge.app import RunSettings, build_pipeline, run
from edge.defaults import default_model
from edge.health import STATES, alert_manager, attach
from edge.stats import STAGES
from tests.health.conftest import make_config, run_in_thread
from tests.helpers.net import wait_for


def scrape(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def values(family, **labels) -> list[float]:
    return [s.value for s in family.samples
            if all(s.labels.get(k) == v for k, v in labels.items())]


def test_metrics_scrape_after_a_short_run(tmp_path, cat_camera, broker):
    from edge.alerts import build_alerts

    cfg = make_config(tmp_path, cat_camera.url, broker.port,
                      metrics={"enabled": True, "port": 0},
                      health={"fps_window_s": 1.0},
                      rules=[{"name": "cat", "labels": ["cat"], "min_score": 0.5, "min_frames": 1,
                              "end_after_frames": 1, "cooldown_s": 0, "outputs": ["mqtt"]}])
    settings = RunSettings.from_config(cfg)
    alerts = build_alerts(cfg.alerts, cfg.device)
    settings.extra_sinks.append(alerts)
    pipeline = build_pipeline(settings)
    h = attach(pipeline, cfg, alert_manager(settings.extra_sinks), version="2026.12.1")
    port = h.metrics.port
    assert port != 0
    t, result = run_in_thread(pipeline)
    try:
        assert wait_for(lambda: pipeline.stats.frames >= 20 and alerts.counts["end"] >= 1, 30)
        assert wait_for(lambda: h.monitor.counts["checks"] >= 3, 10)
        h.set_model("/models/v2/model.tflite", version="2026.12.2")  # what a model swap does
        fams = scrape(port)
    finally:
        pipeline.stop()
        t.join(20)
    assert "error" not in result, result

    want = {"edge_fps", "edge_frames_processed", "edge_frames_dropped", "edge_stage_latency_seconds",
            "edge_capture_reconnects", "edge_events", "edge_mqtt_queue_messages",
            "edge_mqtt_connected", "edge_mqtt_dropped", "edge_health_state", "edge_model_info",
            "edge_last_frame_timestamp_seconds", "edge_frames_over_budget", "edge_alert_failures"}
    assert want <= set(fams), sorted(fams)
    assert fams["edge_frames_processed"].type == "counter"
    assert values(fams["edge_frames_processed"])[0] >= 20
    assert 0 < values(fams["edge_fps"])[0] < 100  # 10 FPS camera
    lat = fams["edge_stage_latency_seconds"]
    assert lat.type == "histogram"
    assert {s.labels["stage"] for s in lat.samples} == set(STAGES)
    counts = {s.labels["stage"]: s.value for s in lat.samples if s.name.endswith("_count")}
    sums = {s.labels["stage"]: s.value for s in lat.samples if s.name.endswith("_sum")}
    assert all(counts[s] >= 20 for s in STAGES)
    assert 0 < sums["invoke"] / counts["invoke"] < 5  # seconds, not milliseconds
    assert sums["total"] >= sums["invoke"]
    assert values(fams["edge_events"], phase="start")[0] >= 1
    assert values(fams["edge_events"], phase="end")[0] >= 1
    assert values(fams["edge_mqtt_connected"]) == [1.0]
    assert values(fams["edge_frames_dropped"], reason="stale") == [0.0]
    assert {s.labels["state"]: s.value for s in fams["edge_health_state"].samples} == {
        s: 0.0 for s in STATES}
    (info,) = fams["edge_model_info"].samples
    assert info.labels == {"model": "/models/v2/model.tflite", "version": "2026.12.2",
                           "delegate": "cpu", "device": "hbox"}
    # the endpoint went away with the pipeline
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_metrics_port_taken_is_one_line_error(tmp_path, camera):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        cfg = make_config(tmp_path, camera.url, metrics={"enabled": True, "port": taken})
        with pytest.raises(RuntimeError) as e:
            run(RunSettings.from_config(cfg))
    assert str(e.value).startswith(f"metrics: cannot listen on 127.0.0.1:{taken} (")
    assert "change metrics.address / metrics.port" in str(e.value)


def test_missing_prometheus_client_names_the_extra(tmp_path, camera):
    # a device installed without the metrics extra: the import is blocked, as it fails there
    cfg = tmp_path / "box.yaml"
    model, labels = default_model()
    cfg.write_text(f"model: {model}\nlabels: {labels}\nsource: {camera.url}\n"
                   "metrics: {enabled: true, port: 0}\nhealth: {enabled: false}\n")
    code = textwrap.dedent("""
        import sys
        sys.modules["prometheus_client"] = None  # what a missing package looks like to import
        from edge.cli import main
        main()
    """)
    res = subprocess.run([sys.executable, "-c", code, "run", "--config", str(cfg)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    assert ("Error: metrics.enabled: the prometheus-client package is missing; "
            "pip install 'edge-detect[metrics]'") in res.stderr

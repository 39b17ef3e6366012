"""MQTT sink against a real Mosquitto: payloads, availability/will, outage, queue bound,
credentials. Subscribers are real paho clients; payloads are checked against the schema
that ships in docs/schemas."""

import json
import logging
import subprocess
import sys
import textwrap
import time

import jsonschema
import pytest

from edge.alerts import build_alerts
from edge.alerts.config import AlertsConfig
from tests.alerts.conftest import EVENT_SCHEMA, REPO, Clock
from tests.helpers.broker import Broker
from tests.helpers.net import free_port

SCHEMA = json.loads(EVENT_SCHEMA.read_text())
BOX = [[0.3, 0.4, 0.5, 0.9]]


def config(port, tmp_path, **mqtt):
    return AlertsConfig.model_validate({
        "mqtt": {"host": "127.0.0.1", "port": port, "queue_path": str(tmp_path / "q.db"),
                 "reconnect_min_s": 0.2, "reconnect_max_s": 1.0, **mqtt},
        "event_log": {"path": str(tmp_path / "events.jsonl")},
        "home_assistant": {"discovery": True},
        "rules": [{"name": "raccoon-in-yard", "labels": ["raccoon"], "min_score": 0.5,
                   "min_frames": 1, "end_after_frames": 1, "cooldown_s": 0,
                   "update_interval_s": 0.5}],
    })


def one_event(mgr, clock, frames=3):
    for _ in range(frames):
        mgr.handle(clock.result(BOX, ["raccoon"], [0.8]))
    mgr.handle(clock.result())


def log_lines(tmp_path):
    return [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]


def test_events_snapshot_stats_availability_and_discovery(broker, subscriber_factory, tmp_path):
    sub = subscriber_factory(broker.port, ["edge/#", "homeassistant/#"])
    mgr = build_alerts(config(broker.port, tmp_path), "yard")
    clock = Clock(fps=10)
    for i in range(12):  # moving raccoon -> start, rate-limited updates
        mgr.handle(clock.result([[0.1 + 0.02 * i, 0.4, 0.3 + 0.02 * i, 0.9]], ["raccoon"],
                                [0.6 + 0.02 * i]))
    mgr.handle(clock.result())
    mgr.publish_stats({"fps": 9.5, "frames": 13})
    assert sub.wait_for(lambda s: any(json.loads(m.payload)["phase"] == "end"
                                      for m in s.on("edge/yard/events")))
    assert sub.wait_for(lambda s: s.on("edge/yard/stats"))
    mgr.close()
    assert sub.wait_for(lambda s: s.on("edge/yard/availability")[-1].payload == b"offline")

    events = [m.json() for m in sub.on("edge/yard/events")]
    for e in events:
        jsonschema.validate(e, SCHEMA)
    phases = [e["phase"] for e in events]
    assert phases[0] == "start" and phases[-1] == "end" and phases.count("start") == 1
    assert 1 <= phases.count("update") <= 3  # 1.2 s of event, one update per 0.5 s at most
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert events[-1]["best_score"] == pytest.approx(0.82, abs=1e-3)
    assert events[0]["box_px"] == [64.0, 192.0, 192.0, 432.0]  # 640x480 frame
    (snap,) = sub.on("edge/yard/snapshot/raccoon")
    assert snap.payload[:2] == b"\xff\xd8"
    # a subscriber arriving later gets the retained snapshot and availability
    late = subscriber_factory(broker.port, ["edge/yard/snapshot/+", "edge/yard/availability"],
                              client_id="late")
    assert late.wait_for(lambda s: len(s.messages) == 2, 5)
    assert all(m.retain for m in late.messages)
    assert late.on("edge/yard/availability")[0].payload == b"offline"
    stats = sub.on("edge/yard/stats")[0].json()
    assert stats["fps"] == 9.5 and stats["alerts"]["start"] == 1 and stats["mqtt"]["connected"]
    assert [m.payload for m in sub.on("edge/yard/availability")][0] == b"online"
    (disc,) = sub.on("homeassistant/binary_sensor/edge_yard/raccoon-in-yard/config")
    d = disc.json()
    assert d["state_topic"] == "edge/yard/rules/raccoon-in-yard/state"
    assert d["availability_topic"] == "edge/yard/availability"
    states = [m.payload for m in sub.on(d["state_topic"])]
    assert states == [b"OFF", b"ON", b"OFF"]
    # the log saw the same messages as the broker
    assert [(e["id"], e["seq"]) for e in log_lines(tmp_path)] == [(e["id"], e["seq"]) for e in events]


@pytest.mark.slow
def test_broker_killed_and_restarted_delivers_outage_events_in_order(tmp_path, subscriber_factory,
                                                                     caplog):
    # persistence lets the broker keep the subscriber's session (and queue for it) across
    # the restart, so what we check is our delivery, not the subscriber's reconnect race
    store = tmp_path / "store"
    store.mkdir()
    broker = Broker(tmp_path, extra=f"persistence true\npersistence_location {store}/\n"
                    "autosave_interval 1\nautosave_on_changes true\n").start()
    try:
        sub = subscriber_factory(broker.port, ["edge/#"], client_id="outage-sub",
                                 clean_session=False)
        time.sleep(0.3)  # let the autosave write the subscription
        mgr = build_alerts(config(broker.port, tmp_path, publish_snapshots=False), "yard")
        mqtt_sink = mgr.runners["mqtt"].sink
        clock = Clock(fps=10)
        for _ in range(2):
            one_event(mgr, clock)
        assert sub.wait_for(lambda s: len(s.on("edge/yard/events")) >= 4)

        broker.kill()
        assert _wait(lambda: not mqtt_sink.connected, 5)
        for _ in range(5):  # events during the outage
            one_event(mgr, clock)
        t_kill = time.monotonic()
        time.sleep(1.0)
        assert mqtt_sink.stats()["queued"] >= 10
        time.sleep(max(0.0, 10.0 - (time.monotonic() - t_kill)))
        broker.start()
        produced = [(e["id"], e["seq"]) for e in log_lines(tmp_path)]
        assert len(produced) == 14
        assert sub.wait_for(lambda s: len({(m.json()["id"], m.json()["seq"])
                                           for m in s.on("edge/yard/events")}) >= 14, 20)
        got = [(m.json()["id"], m.json()["seq"]) for m in sub.on("edge/yard/events")]
        first_seen = list(dict.fromkeys(got))
        assert first_seen == produced  # everything, in order
        assert len(got) - len(first_seen) <= 16  # QoS 1 redelivery of the in-flight window only
        assert _wait(lambda: mqtt_sink.stats()["queued"] == 0, 5)
        assert sub.wait_for(lambda s: s.on("edge/yard/availability")[-1].payload == b"online")
        st = mqtt_sink.stats()
        assert st["disconnects"] == 1 and st["connects"] == 2 and st["dropped"] == 0
        mgr.close()
    finally:
        broker.stop()
    assert any("disconnected" in r.message for r in caplog.records)


def test_last_will_offline_when_the_device_dies(broker, subscriber_factory, tmp_path):
    """SIGKILLing the broker sends no wills, so we kill the *device*: the broker sees the
    connection die without DISCONNECT and publishes our will."""
    sub = subscriber_factory(broker.port, ["edge/yard/availability"])
    cfg = config(broker.port, tmp_path).model_dump_json()
    script = textwrap.dedent(f"""
        import sys, time
        from edge.alerts import build_alerts
        from edge.alerts.config import AlertsConfig
        mgr = build_alerts(AlertsConfig.model_validate_json({cfg!r}), "yard")
        while not mgr.runners["mqtt"].sink.connected:
            time.sleep(0.02)
        print("ready", flush=True)
        time.sleep(60)
    """)
    for _round in range(2):
        dev = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE)
        try:
            assert dev.stdout.readline().strip() == b"ready"
            assert sub.wait_for(lambda s: [m.payload for m in s.on("edge/yard/availability")]
                                [-1:] == [b"online"], 5)
            dev.kill()
            dev.wait(5)
            assert sub.wait_for(lambda s: s.on("edge/yard/availability")[-1].payload == b"offline", 5)
        finally:
            dev.kill()
    assert [m.payload for m in sub.on("edge/yard/availability")] == [b"online", b"offline"] * 2


def test_queue_full_drops_oldest_counts_and_logs_then_delivers_the_rest(tmp_path, caplog):
    port = free_port()  # nothing listens yet: the broker is "unreachable"
    cfg = config(port, tmp_path, queue_max=5, publish_snapshots=False)
    cfg.home_assistant = None
    mgr = build_alerts(cfg, "yard")
    mqtt_sink = mgr.runners["mqtt"].sink
    clock = Clock()
    with caplog.at_level(logging.WARNING):
        for _ in range(10):
            one_event(mgr, clock)
        assert _wait(lambda: mgr.runners["mqtt"].pending == 0, 5)
    st = mgr.stats()["sinks"]["mqtt"]
    assert st["dropped"] == 15 and st["queued"] == 5 and not st["connected"]
    assert any("dropped the" in r.message and r.levelno == logging.WARNING for r in caplog.records)
    # what survived on disk: the 5 newest messages, oldest first
    kept = [json.loads(m.payload) for m in mqtt_sink.queue.after(0, 100)]
    produced = [(e["id"], e["seq"]) for e in log_lines(tmp_path)]
    assert len(produced) == 20 and [(e["id"], e["seq"]) for e in kept] == produced[-5:]
    broker = Broker(tmp_path, port=port).start()
    try:
        assert _wait(lambda: mqtt_sink.stats()["queued"] == 0, 10)
        assert mqtt_sink.stats()["delivered"] == 5
        mgr.close()
    finally:
        broker.stop()


def test_wrong_credentials_clear_error_and_detection_keeps_queueing(tmp_path, caplog, monkeypatch):
    pw = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pw), "edge", "s3cret"], check=True)
    broker = Broker(tmp_path, anonymous=False, extra=f"password_file {pw}\n").start()
    try:
        mgr = build_alerts(config(broker.port, tmp_path, username="edge", password="wrong"), "yard")
        clock = Clock()
        with caplog.at_level(logging.ERROR):
            t0 = time.monotonic()
            for _ in range(3):
                one_event(mgr, clock)
            assert time.monotonic() - t0 < 0.5  # handle() never waits for the broker
            sink = mgr.runners["mqtt"].sink
            assert _wait(lambda: sink.stats()["connect_failures"] >= 2, 10)  # keeps retrying
        st = sink.stats()
        assert not st["connected"] and st["queued"] >= 6 and "refused" in st["last_error"]
        msgs = [r.message for r in caplog.records if "refused" in r.message]
        assert msgs and "mqtt.username" in msgs[0] and "Not authorized" in msgs[0]
        assert mgr.stats()["start"] == 3
        mgr.close(timeout=1)

        # right credentials from the environment: the queued events are delivered
        monkeypatch.setenv("EDGE_MQTT_USERNAME", "edge")
        monkeypatch.setenv("EDGE_MQTT_PASSWORD", "s3cret")
        mgr = build_alerts(config(broker.port, tmp_path), "yard")
        sink = mgr.runners["mqtt"].sink
        assert _wait(lambda: sink.connected and sink.stats()["queued"] == 0, 10)
        assert sink.stats()["delivered"] >= 6
        mgr.close()
    finally:
        broker.stop()


def _wait(pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()

"""Home Assistant discovery for the health states: one retained ``problem`` binary_sensor per
state on the same device and availability topic as the rule sensors, whose value_template
reads the retained health JSON. Real Mosquitto, real paho subscriber; the template is
rendered with Jinja2 (the engine Home Assistant uses) when it is installed."""

from __future__ import annotations

import json

import pytest

from edge.alerts.homeassistant import Topics, health_discovery_messages
from edge.app import RunSettings, build_pipeline
from edge.defaults import COCO_SAMPLE
from edge.health import STATES, alert_manager, attach
from tests.health.conftest import DEVICE, HEALTH_TOPIC, make_config
from tests.helpers.net import wait_for


def test_health_discovery_is_retained_and_well_formed(tmp_path, broker, subscriber_factory):
    from edge.alerts import build_alerts

    cfg = make_config(tmp_path, str(COCO_SAMPLE), broker.port,
                      home_assistant={"discovery": True},
                      rules=[{"name": "cat", "labels": ["cat"], "outputs": ["mqtt"]}])
    settings = RunSettings.from_config(cfg)
    settings.extra_sinks.append(build_alerts(cfg.alerts, cfg.device))
    pipeline = build_pipeline(settings)
    h = attach(pipeline, cfg, alert_manager(settings.extra_sinks))
    try:
        # the pipeline is not run: the first check comes after the stall time (2 s here)
        assert wait_for(lambda: h.monitor.counts["published"] >= 1, 10)
        assert h.mqtt.wait_delivered(10)
        # a subscriber arriving later (Home Assistant starting) gets everything, retained
        sub = subscriber_factory(broker.port, ["homeassistant/#", HEALTH_TOPIC], client_id="ha")
        n = len(STATES) + 1  # + the rule's sensor
        assert sub.wait_for(lambda s: len([m for m in s.messages if "/config" in m.topic]) >= n
                            and s.on(HEALTH_TOPIC), 10), [m.topic for m in sub.messages]
    finally:
        h.close()
        settings.extra_sinks[0].close()
    configs = {m.topic: m for m in sub.messages if m.topic.endswith("/config")}
    assert all(m.retain for m in configs.values())
    rule = configs["homeassistant/binary_sensor/edge_hbox/cat/config"].json()
    state = sub.on(HEALTH_TOPIC)[-1]
    assert state.retain
    for name in STATES:
        d = configs[f"homeassistant/binary_sensor/edge_hbox/health_{name}/config"].json()
        assert d["device_class"] == "problem" and d["entity_category"] == "diagnostic"
        assert d["unique_id"] == f"edge_hbox_health_{name}"
        assert d["state_topic"] == d["json_attributes_topic"] == HEALTH_TOPIC
        assert (d["payload_on"], d["payload_off"]) == ("ON", "OFF")
        # the same device and availability as the rule sensors: one device card in HA
        assert d["device"] == rule["device"]
        assert d["availability_topic"] == rule["availability_topic"] == f"edge/{DEVICE}/availability"
        assert f"value_json.states.{name}.on" in d["value_template"]
        rendered = render(d["value_template"], state.json())
        if rendered is not None:  # (the pipeline never ran: the camera reads as stalled)
            assert rendered == ("ON" if state.json()["states"][name]["on"] else "OFF")
    assert state.json()["states"]["camera_stalled"]["on"] is True


def test_value_template_reads_on_and_off():
    topics = Topics("edge", DEVICE)
    (_, payload), = health_discovery_messages(topics, ["camera_stalled"], "homeassistant")
    d = json.loads(payload)
    for on, want in ((True, "ON"), (False, "OFF")):
        msg = {"states": {"camera_stalled": {"on": on, "since": 1.0, "detail": "x"}}}
        rendered = render(d["value_template"], msg)
        if rendered is None:
            pytest.skip("jinja2 not installed: the template is checked by its text above")
        assert rendered == want
        attrs = render(d["json_attributes_template"], msg)
        assert json.loads(attrs) == msg["states"]["camera_stalled"]


def render(template: str, value_json: dict) -> str | None:
    """Render like HA does (value_json = the parsed payload); None without Jinja2."""
    try:
        import jinja2
    except ImportError:
        return None
    env = jinja2.Environment()
    env.filters.setdefault("tojson", json.dumps)
    return env.from_string(template).render(value_json=value_json).strip()

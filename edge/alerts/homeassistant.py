"""Home Assistant MQTT discovery: one ``binary_sensor`` per rule, ON while the rule has an
active event, and one per health state (device_class ``problem``, read from the retained
health JSON), all sharing the device's availability topic (so HA shows them unavailable
when the last will fires)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from edge import __version__


@dataclass(frozen=True)
class Topics:
    """The device's MQTT topics: ``<prefix>/<device>/...``."""

    prefix: str
    device: str

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.device}"

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    @property
    def events(self) -> str:
        return f"{self.base}/events"

    @property
    def stats(self) -> str:
        return f"{self.base}/stats"

    def snapshot(self, label: str) -> str:
        return f"{self.base}/snapshot/{topic_safe(label)}"

    def rule_state(self, rule: str) -> str:
        return f"{self.base}/rules/{rule}/state"

    @property
    def health(self) -> str:
        return f"{self.base}/health"


def topic_safe(s: str) -> str:
    """Labels such as 'traffic light' are fine in topics; '/', '+' and '#' are not."""
    return "".join("_" if c in "/+#" else c for c in s) or "_"


def discovery_messages(topics: Topics, rules: list[str], discovery_prefix: str) -> list[tuple[str, str]]:
    """(topic, JSON payload) per rule; publish retained on every connect."""
    node, device = _node(topics), _device(topics)
    out = []
    for rule in rules:
        uid = f"{node}_{rule}".replace("-", "_")
        payload = {
            "name": rule,
            "unique_id": uid,
            "object_id": uid,
            "state_topic": topics.rule_state(rule),
            "payload_on": "ON",
            "payload_off": "OFF",
            "availability_topic": topics.availability,
            "payload_available": "online",
            "payload_not_available": "offline",
            "device_class": "occupancy",
            "json_attributes_topic": topics.events,
            "device": device,
        }
        out.append((f"{discovery_prefix}/binary_sensor/{node}/{rule}/config",
                    json.dumps(payload, separators=(",", ":"))))
    return out


def health_discovery_messages(topics: Topics, states: list[str],
                              discovery_prefix: str) -> list[tuple[str, str]]:
    """(topic, JSON payload) per health state: a ``problem`` binary_sensor ON while the
    state is on in the retained JSON on ``topics.health``; publish retained on every connect."""
    node, device = _node(topics), _device(topics)
    out = []
    for state in states:
        uid = f"{node}_health_{state}"
        payload = {
            "name": state.replace("_", " "),
            "unique_id": uid,
            "object_id": uid,
            "state_topic": topics.health,
            "value_template": f"{{{{ 'ON' if value_json.states.{state}.on else 'OFF' }}}}",
            "payload_on": "ON",
            "payload_off": "OFF",
            "availability_topic": topics.availability,
            "payload_available": "online",
            "payload_not_available": "offline",
            "device_class": "problem",
            "entity_category": "diagnostic",
            "json_attributes_topic": topics.health,
            "json_attributes_template": f"{{{{ value_json.states.{state} | tojson }}}}",
            "device": device,
        }
        out.append((f"{discovery_prefix}/binary_sensor/{node}/health_{state}/config",
                    json.dumps(payload, separators=(",", ":"))))
    return out


def _node(topics: Topics) -> str:
    return f"edge_{topics.device}".replace("-", "_")


def _device(topics: Topics) -> dict:
    """The HA device every entity of this box belongs to."""
    return {"identifiers": [_node(topics)], "name": topics.device, "manufacturer": "edge",
            "model": "edge-detect", "sw_version": __version__}

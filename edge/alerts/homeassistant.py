"""Home Assistant MQTT discovery: one ``binary_sensor`` per rule, ON while the rule has an
active event, sharing the device's availability topic (so HA shows it unavailable when the
last will fires)."""

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


def topic_safe(s: str) -> str:
    """Labels such as 'traffic light' are fine in topics; '/', '+' and '#' are not."""
    return "".join("_" if c in "/+#" else c for c in s) or "_"


def discovery_messages(topics: Topics, rules: list[str], discovery_prefix: str) -> list[tuple[str, str]]:
    """(topic, JSON payload) per rule; publish retained on every connect."""
    node = f"edge_{topics.device}".replace("-", "_")
    device = {"identifiers": [node], "name": topics.device, "manufacturer": "edge",
              "model": "edge-detect", "sw_version": __version__}
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

"""The one table of alert sink kinds: which config section each reads, the name
``rules[].outputs`` uses for it, and how to build it.

Config validation (reserved names, ``outputs`` checks), routing and construction all read
``SINK_KINDS``; a new sink is one row here plus its module. Row order is the order of
``configured_sinks`` (and so of a rule's default outputs). Sink modules are imported inside
the factories: paho, gpiozero and the like load only when a config uses them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.alerts.config import AlertsConfig
    from edge.alerts.sinks.base import AlertSink

SinkFactory = Callable[["AlertsConfig", str, str], "AlertSink"]  # (alerts, sink name, device)


@dataclass(frozen=True)
class SinkKind:
    """section: the key in the device YAML. name: the sink's name in ``rules[].outputs``,
    or None when every key under the section names one sink (gpio, webhooks)."""

    section: str
    name: str | None
    make: SinkFactory

    def names(self, value: Any) -> list[str]:
        """Sink names that the section's validated ``value`` configures."""
        if self.name is not None:
            return [] if value is None else [self.name]
        return list(value or {})


def _mqtt(cfg: AlertsConfig, name: str, device: str) -> AlertSink:
    from edge.alerts.sinks.mqtt import MqttSink

    # rule names and the Home Assistant section: discovery publishes one entity per rule
    return MqttSink(cfg.mqtt, device, [r.name for r in cfg.rules], cfg.home_assistant)


def _event_log(cfg: AlertsConfig, name: str, device: str) -> AlertSink:
    from edge.alerts.sinks.jsonl import EventLogSink

    return EventLogSink(cfg.event_log)


def _snapshot(cfg: AlertsConfig, name: str, device: str) -> AlertSink:
    from edge.alerts.sinks.snapshot import SnapshotSink

    return SnapshotSink(cfg.snapshots)


def _gpio(cfg: AlertsConfig, name: str, device: str) -> AlertSink:
    from edge.alerts.sinks.gpio import GpioSink

    return GpioSink(name, cfg.gpio[name])


def _webhook(cfg: AlertsConfig, name: str, device: str) -> AlertSink:
    from edge.alerts.sinks.webhook import WebhookSink

    return WebhookSink(name, cfg.webhooks[name])


SINK_KINDS: tuple[SinkKind, ...] = (
    SinkKind("mqtt", "mqtt", _mqtt),
    SinkKind("event_log", "event_log", _event_log),
    SinkKind("snapshots", "snapshot", _snapshot),
    SinkKind("gpio", None, _gpio),
    SinkKind("webhooks", None, _webhook),
)
SINK_SECTIONS: tuple[str, ...] = tuple(k.section for k in SINK_KINDS)
# names a gpio output or webhook may not take: they would be ambiguous in rules[].outputs
FIXED_SINKS: dict[str, str] = {k.name: k.section for k in SINK_KINDS if k.name is not None}


def configured_sinks_of(sections: Mapping[str, Any]) -> dict[str, SinkKind]:
    """Sink name -> kind for the validated sink ``sections`` (section key -> value)."""
    return {name: kind for kind in SINK_KINDS for name in kind.names(sections.get(kind.section))}

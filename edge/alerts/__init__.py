"""Alerts: rules + IoU tracker turn detections into events; sinks deliver them (MQTT with an
on-disk queue, GPIO, JSON-lines log, snapshots, webhooks). See docs/alerts.md."""

from __future__ import annotations

import logging
from pathlib import Path

from edge.alerts.config import AlertsConfig
from edge.alerts.manager import AlertManager
from edge.alerts.open_events import OpenEvents, default_state_dir

log = logging.getLogger(__name__)

__all__ = ["AlertManager", "AlertsConfig", "build_alerts"]


def build_alerts(cfg: AlertsConfig, device: str) -> AlertManager | None:
    """The AlertManager for ``cfg`` (the device config's ``alerts`` section; a ResultSink with
    ``publish_stats``), or None when no rules are configured. Sinks are created here, so a
    missing GPIO, an unwritable folder or bad TLS files fail before the first frame; an
    unreachable broker does not (events queue).
    """
    from edge.alerts.dispatch import SinkRunner
    from edge.alerts.engine import RuleEngine

    kinds = cfg.sink_kinds()
    if not cfg.rules:
        if kinds:
            log.warning("alert sinks are configured but there are no rules; no alerts will fire")
        return None
    configured = list(kinds)
    routes = {r.name: list(r.outputs) if r.outputs is not None else configured for r in cfg.rules}
    used = {name for names in routes.values() for name in names}
    runners: dict[str, SinkRunner] = {}
    try:
        for name in configured:
            if name not in used:
                log.warning("alert sink %s is configured but no rule uses it", name)
                continue
            runners[name] = SinkRunner(name, kinds[name].make(cfg, name, device))
    except Exception:
        for r in runners.values():
            r.close(1.0)
        raise
    engines = [RuleEngine(rule, device) for rule in cfg.rules]
    manager = AlertManager(engines, runners, routes, OpenEvents(open_events_path(cfg, device)))
    manager.end_left_open()
    return manager


def open_events_path(cfg: AlertsConfig, device: str) -> Path:
    """Beside the MQTT queue when the config names one, else in edge's state folder."""
    folder = cfg.mqtt.queue_path.parent if cfg.mqtt and cfg.mqtt.queue_path else default_state_dir()
    return folder / f"{device}-open-events.json"


"""Device health (camera, detector, FPS, delegate, disk/queue, temperature) as states on
MQTT and Home Assistant, and an opt-in Prometheus /metrics endpoint. See docs/health.md.

``attach(pipeline, cfg, alerts)`` starts both on a built pipeline (``edge.app.run`` does)."""

from edge.health.attach import Health, alert_manager, attach
from edge.health.states import STATES

__all__ = ["STATES", "Health", "alert_manager", "attach"]

"""Wire health and metrics onto a built pipeline: ``attach(pipeline, cfg, alerts)``.

``edge run`` calls it from ``edge.app.run``; a supervisor that builds its own pipeline
(``edge.fleet``) calls it the same way. What it starts is owned by the returned ``Health``,
a ResultSink placed *first* in the pipeline's sinks: the pipeline closes it before the
alert sinks, so the monitor never writes to an MQTT sink that has already closed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from edge.core.frame import FrameResult
from edge.health.fps import FpsWindow
from edge.health.gpio import HealthGpio
from edge.health.metrics import Metrics
from edge.health.monitor import HealthMonitor
from edge.health.notify import HealthWebhook

if TYPE_CHECKING:
    from edge.alerts.manager import AlertManager
    from edge.alerts.sinks.mqtt import MqttSink
    from edge.config import EdgeConfig
    from edge.pipeline import Pipeline

log = logging.getLogger(__name__)


class Health:
    """The running health monitor and/or metrics endpoint of one pipeline.

    ``monitor``: None when ``health.enabled`` is false. ``metrics``: None unless
    ``metrics.enabled``. ``mqtt``: the MQTT sink health uses (the alerts' own, or one made
    here when the config has an mqtt section but no rule routes to it)."""

    def __init__(self, pipeline: Pipeline, monitor: HealthMonitor | None,
                 metrics: Metrics | None, mqtt: MqttSink | None, owns_mqtt: bool,
                 outputs: Sequence[HealthWebhook | HealthGpio] = ()) -> None:
        self.pipeline = pipeline
        self.monitor = monitor
        self.metrics = metrics
        self.mqtt = mqtt
        self.owns_mqtt = owns_mqtt
        self.outputs = list(outputs)  # health.webhooks and health.gpio
        self._closed = False
        # the pipeline closes it at its end; a supervisor abandoning a hung pipeline may too
        self._close_lock = threading.Lock()

    # -- ResultSink -----------------------------------------------------------------------
    def handle(self, result: FrameResult) -> None:
        if self.metrics is not None:  # the capture time of the newest frame through the model
            self.metrics.last_frame_wall = result.frame.wall_time

    def publish_stats(self, stats: dict) -> None:
        """The pipeline's periodic stats; forwarded to an MQTT sink made here (the alerts'
        own sink gets them from the AlertManager)."""
        if self.owns_mqtt and self.mqtt is not None:
            self.mqtt.publish_stats(stats)

    def close(self) -> None:
        """Stop the monitor (after a last check when the detector failed: that is news for
        the fleet), the metrics server and an MQTT sink made here. Idempotent."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        try:
            if self.monitor is not None:
                self.monitor.stop()
                if self.pipeline.detect_error is not None:
                    self.monitor.check()
        finally:
            if self.metrics is not None:
                self.metrics.close()
            for out in self.outputs:
                out.close()
            if self.owns_mqtt and self.mqtt is not None:
                self.mqtt.close()

    def set_model(self, path: str | Path, version: str | None = None,
                  delegate: str | None = None) -> None:
        """Model info for ``edge_model_info`` (no-op without metrics)."""
        if self.metrics is not None:
            self.metrics.set_model(path, version, delegate)


def attach(pipeline: Pipeline, cfg: EdgeConfig, alerts: AlertManager | None = None, *,
           delegate: str | None = None, model: str | Path | None = None,
           version: str | None = None) -> Health | None:
    """Start health monitoring and metrics for ``pipeline`` as ``cfg.health`` /
    ``cfg.metrics`` say; None when both are off. ``delegate`` / ``model``: what the run
    was asked for (default: the config's). The pipeline closes the returned Health when
    it ends; call ``close()`` yourself if it never runs. RuntimeError (one line) when
    metrics cannot start: prometheus-client missing, or the port taken."""
    hcfg, mcfg = cfg.health, cfg.metrics
    if not hcfg.enabled and not mcfg.enabled:
        return None
    for key, configured in (("webhooks", cfg.alerts.webhooks), ("gpio", cfg.alerts.gpio)):
        unknown = [n for n in getattr(hcfg, key) if n not in configured]
        if unknown:
            raise ValueError(f"health.{key}: {unknown} not configured under {key}: "
                             f"(configured: {sorted(configured) or 'none'})")
    mqtt, owns = _mqtt_sink(cfg, alerts) if hcfg.enabled else (None, False)
    fps = FpsWindow(hcfg.fps_window_s)
    delegate = delegate or cfg.delegate
    monitor = metrics = None
    try:
        if hcfg.enabled:
            monitor = HealthMonitor(pipeline, hcfg, cfg.device, mqtt=mqtt, delegate=delegate, fps=fps)
        if mcfg.enabled:
            metrics = Metrics(mcfg, pipeline, device=cfg.device, model=model or cfg.model,
                              delegate=delegate, version=version, mqtt=mqtt or _alerts_mqtt(alerts),
                              alerts=alerts, health=monitor, fps=fps).start()
    except Exception:
        if owns and mqtt is not None:
            mqtt.close(1.0)
        raise
    hooks: list = []
    try:
        if monitor is not None:
            hooks = [HealthWebhook(n, cfg.alerts.webhooks[n]) for n in hcfg.webhooks]
            hooks += [_gpio(cfg, n, alerts) for n in hcfg.gpio]
    except Exception:
        for hook in hooks:
            hook.close(1.0)
        if metrics is not None:
            metrics.close()
        if owns and mqtt is not None:
            mqtt.close(1.0)
        raise
    for hook in hooks:
        monitor.listeners.append(hook.notify)
    health = Health(pipeline, monitor, metrics, mqtt, owns, hooks)
    pipeline.sinks.insert(0, health)
    if metrics is not None:
        pipeline.frame_observers.append(metrics.observe)
    if monitor is not None:
        monitor.start()
    return health


def alert_manager(sinks: Sequence[object]) -> AlertManager | None:
    """The AlertManager among a run's extra sinks, if any (also when wrapped, as the fleet
    supervisor's ``KeepOpen`` does, in an object whose ``sink`` is the manager)."""
    from edge.alerts.manager import AlertManager

    for s in sinks:
        for candidate in (s, getattr(s, "sink", None)):
            if isinstance(candidate, AlertManager):
                return candidate
    return None


def _gpio(cfg: EdgeConfig, name: str, alerts: AlertManager | None) -> HealthGpio:
    """The alerts' worker for output ``name`` when a rule uses it, else one made here."""
    runner = alerts.runners.get(name) if alerts is not None else None
    if runner is not None:
        return HealthGpio(name, runner, cfg.device, owned=False)
    from edge.alerts.dispatch import SinkRunner
    from edge.alerts.sinks.gpio import GpioSink

    return HealthGpio(name, SinkRunner(name, GpioSink(name, cfg.alerts.gpio[name])), cfg.device,
                      owned=True)


def _alerts_mqtt(alerts: AlertManager | None) -> MqttSink | None:
    from edge.alerts.sinks.mqtt import MqttSink

    runner = alerts.runners.get("mqtt") if alerts is not None else None
    return runner.sink if runner is not None and isinstance(runner.sink, MqttSink) else None


def _mqtt_sink(cfg: EdgeConfig, alerts: AlertManager | None) -> tuple[MqttSink | None, bool]:
    """(sink, made here). One client per device: reuse the alerts' sink when it exists."""
    sink = _alerts_mqtt(alerts)
    if sink is not None or cfg.alerts.mqtt is None:
        return sink, False
    from edge.alerts.sinks.mqtt import MqttSink

    # no rule routes to mqtt, so build_alerts made none: health still has to reach the fleet
    return MqttSink(cfg.alerts.mqtt, cfg.device, rules=(),
                    home_assistant=cfg.alerts.home_assistant), True

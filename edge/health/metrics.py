"""An opt-in Prometheus ``/metrics`` endpoint (``metrics:`` section; prometheus-client from
the ``metrics`` extra) on its own registry and HTTP server thread.

Per-frame latency goes into histograms as frames pass (a pipeline frame observer); every
other value (FPS, frame/drop counters, events, MQTT queue, health states, model) is read
from the running objects at scrape time, so nothing is copied on the frame path.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.extras import install_command
from edge.health.config import MetricsConfig
from edge.health.fps import FpsWindow
from edge.health.states import STATES
from edge.stats import STAGES

if TYPE_CHECKING:
    from edge.alerts.manager import AlertManager
    from edge.alerts.sinks.mqtt import MqttSink
    from edge.health.monitor import HealthMonitor
    from edge.pipeline import Pipeline

log = logging.getLogger(__name__)
# seconds: 1 ms (a Coral invoke) .. 5 s (a stalled stream's capture wait)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25,
                   0.5, 1.0, 2.5, 5.0)


def _prometheus():
    try:
        import prometheus_client
    except ImportError:
        raise RuntimeError("metrics.enabled: the prometheus-client package is missing; "
                           f"{install_command('metrics')}") from None
    return prometheus_client


class Metrics:
    """Call ``start()`` to listen; ``observe`` is the pipeline's frame observer;
    ``set_model`` updates the model info (e.g. after a model swap by the fleet supervisor)."""

    def __init__(self, cfg: MetricsConfig, pipeline: Pipeline, *, device: str, model: Path,
                 delegate: str, version: str | None = None, mqtt: MqttSink | None = None,
                 alerts: AlertManager | None = None, health: HealthMonitor | None = None,
                 fps: FpsWindow | None = None) -> None:
        prom = _prometheus()
        self.cfg = cfg
        self.pipeline = pipeline
        self.device = device
        self.mqtt = mqtt
        self.alerts = alerts
        self.health = health
        self.fps = fps or FpsWindow(30.0)
        self.model: dict[str, str] = {}
        self.last_frame_wall: float | None = None  # set by edge.health.Health per frame
        self.set_model(model, version, delegate)
        self.registry = prom.CollectorRegistry()
        self.latency = prom.Histogram(
            "edge_stage_latency_seconds", "Per-frame latency of each pipeline stage "
            "(capture_wait, preprocess, invoke, decode, nms; latency = capture to detections; "
            "output; total = capture to outputs done)", ["stage"], buckets=LATENCY_BUCKETS,
            registry=self.registry)
        self._stages = {s: self.latency.labels(s) for s in STAGES}  # all present from the start
        self.registry.register(_Collector(self))
        self._server: Any = None
        self._thread: Any = None

    def set_model(self, path: str | Path, version: str | None = None,
                  delegate: str | None = None) -> None:
        """The ``edge_model_info`` labels; ``version`` None keeps the current one (or
        ``unknown``), likewise ``delegate``."""
        self.model = {"model": str(path),
                      "version": version or self.model.get("version", "unknown"),
                      "delegate": delegate or self.model.get("delegate", "cpu"),
                      "device": self.device}

    def observe(self, timings_ms: dict[str, float]) -> None:
        for stage, child in self._stages.items():
            ms = timings_ms.get(stage)
            if ms is not None:
                child.observe(ms / 1e3)

    def start(self) -> Metrics:
        prom = _prometheus()
        try:
            self._server, self._thread = prom.start_http_server(
                self.cfg.port, addr=self.cfg.address, registry=self.registry)
        except OSError as e:
            raise RuntimeError(f"metrics: cannot listen on {self.cfg.address}:{self.cfg.port} "
                               f"({e.strerror or e}); change metrics.address / metrics.port") from e
        log.info("metrics: Prometheus endpoint on http://%s:%d/metrics", self.cfg.address, self.port)
        return self

    @property
    def port(self) -> int:
        """The bound port (the configured one, or the one the OS chose for port 0)."""
        return self._server.server_port if self._server is not None else self.cfg.port

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None


class _Collector:
    """Values read from the running objects when Prometheus scrapes."""

    def __init__(self, m: Metrics) -> None:
        self.m = m

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily

        m, p = self.m, self.m.pipeline
        fps = m.fps.sample(time.monotonic(), p.stats.frames)
        if fps is None:  # less than a window so far: the run's average
            fps = p.stats.summary()["fps"] if p.stats.frames else 0.0
        yield GaugeMetricFamily("edge_fps", f"Frames per second through the model over the "
                                f"last {m.fps.window_s:g} s", value=fps)
        yield CounterMetricFamily("edge_frames_processed", "Frames through the model",
                                  value=p.stats.frames)
        if m.last_frame_wall is not None:
            yield GaugeMetricFamily("edge_last_frame_timestamp_seconds", "Capture time (Unix "
                                    "seconds) of the newest frame through the model",
                                    value=m.last_frame_wall)
        dropped = CounterMetricFamily("edge_frames_dropped", "Frames not processed: stale "
                                      "(older than the latency budget), overwritten (a newer "
                                      "live frame replaced it before the model was free)",
                                      labels=["reason"])
        dropped.add_metric(["stale"], p.stats.dropped_stale)
        dropped.add_metric(["overwritten"], p.capture.stats.overwritten if p.capture else 0)
        yield dropped
        yield CounterMetricFamily("edge_frames_over_budget", "Frames whose capture-to-output "
                                  "time exceeded the latency budget", value=p.stats.over_budget)
        yield CounterMetricFamily("edge_capture_reconnects", "Camera/stream reconnects",
                                  value=p.capture.stats.reconnects if p.capture else 0)
        if m.alerts is not None:
            events = CounterMetricFamily("edge_events", "Alert event messages, by phase",
                                         labels=["phase"])
            for phase in ("start", "update", "end"):
                events.add_metric([phase], m.alerts.counts.get(phase, 0))
            yield events
            failed = CounterMetricFamily("edge_alert_failures", "Alert messages a sink could "
                                         "not deliver after its retries", labels=["sink"])
            for name, runner in m.alerts.runners.items():
                failed.add_metric([name], runner.counts["failed"])
            yield failed
        if m.mqtt is not None:
            q = m.mqtt.queue
            yield GaugeMetricFamily("edge_mqtt_queue_messages", "Messages waiting in the "
                                    "MQTT on-disk queue", value=len(q))
            yield GaugeMetricFamily("edge_mqtt_queue_bytes", "Bytes waiting in the MQTT "
                                    "on-disk queue", value=q.bytes)
            yield GaugeMetricFamily("edge_mqtt_queue_max_messages", "mqtt.queue_max",
                                    value=q.max_messages)
            yield GaugeMetricFamily("edge_mqtt_connected", "1 while connected to the broker",
                                    value=int(m.mqtt.connected))
            yield CounterMetricFamily("edge_mqtt_delivered", "Messages acknowledged by the broker",
                                      value=m.mqtt.counts["delivered"])
            yield CounterMetricFamily("edge_mqtt_dropped", "Queued messages dropped because "
                                      "the queue was full", value=m.mqtt.counts["dropped"])
        if m.health is not None:
            states = GaugeMetricFamily("edge_health_state", "1 while a health problem is on "
                                       "(docs/health.md)", labels=["state"])
            for name in STATES:
                states.add_metric([name], int(m.health.states.is_on(name)))
            yield states
        yield InfoMetricFamily("edge_model", "The running model", value=dict(m.model))

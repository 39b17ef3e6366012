"""Assemble a running device from settings: detector + source + outputs (+ alerts)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from edge.core.frame import ResultSink
from edge.detector import Detector
from edge.outputs.annotate import AnnotatedSink
from edge.outputs.jsonl import JsonlSink
from edge.outputs.text import TextSink
from edge.pipeline import Pipeline, PipelineOptions, close_each
from edge.sources.factory import open_source

if TYPE_CHECKING:
    from edge.config import EdgeConfig
    from edge.health import Health

log = logging.getLogger(__name__)


@dataclass
class RunSettings:
    """Everything ``edge run`` takes; a config file fills it via ``from_config``."""

    model: Path
    source: int | str = 0
    labels: Path | None = None
    threads: int | None = None
    delegate: str = "cpu"
    decoder: str | None = None
    score: float | None = None
    iou: float | None = None
    max_detections: int | None = None
    resize: str | None = None
    interpolation: str | None = None
    camera_size_wh: tuple[int, int] | None = None
    camera_fps: float | None = None
    jsonl: str | None = "-"
    text: bool = False  # human-readable lines on stdout instead of JSON
    save: Path | None = None
    max_frames: int | None = None
    latency_budget_ms: float | None = None
    stats_interval_s: float = 10.0
    extra_sinks: list[ResultSink] = field(default_factory=list)
    # the device config this came from: run() starts its health monitor and metrics
    # (edge.health.attach); None: neither (plain `edge run --model ...`)
    config: EdgeConfig | None = field(default=None, repr=False)

    @classmethod
    def from_config(cls, cfg: EdgeConfig) -> RunSettings:
        """The detector, source, camera, output and pipeline settings of ``cfg``; its alert
        section goes to ``edge.alerts.build_alerts(cfg.alerts, cfg.device)``."""
        return cls(model=cfg.model, source=cfg.source, labels=cfg.labels, threads=cfg.threads,
                   delegate=cfg.delegate, decoder=cfg.decoder, score=cfg.score, iou=cfg.iou,
                   max_detections=cfg.max_detections, camera_size_wh=cfg.camera.size_wh,
                   camera_fps=cfg.camera.fps, jsonl=cfg.output.jsonl, save=cfg.output.save,
                   latency_budget_ms=cfg.latency_budget_ms, stats_interval_s=cfg.stats_interval_s,
                   config=cfg)


def build_pipeline(s: RunSettings) -> Pipeline:
    """Load everything up front so bad input fails before the first frame."""
    detector = Detector.load(s.model, labels=s.labels, threads=s.threads, delegate=s.delegate,
                             score=s.score, iou=s.iou, max_detections=s.max_detections,
                             decoder=s.decoder, resize=s.resize, interpolation=s.interpolation)
    source = open_source(s.source, s.camera_size_wh, s.camera_fps)
    sinks: list[ResultSink] = []
    if s.text:
        sinks.append(TextSink())
    if s.jsonl and not (s.text and s.jsonl == "-"):
        sinks.append(JsonlSink(s.jsonl))
    if s.save:
        sinks.append(AnnotatedSink(s.save, source=source))
    sinks.extend(s.extra_sinks)
    opts = PipelineOptions(latency_budget_ms=s.latency_budget_ms, max_frames=s.max_frames,
                           stats_interval_s=s.stats_interval_s)
    return Pipeline(detector, source, sinks, opts)


def run(s: RunSettings) -> dict:
    """Run until the source ends or SIGINT/SIGTERM; returns the final stats summary."""
    from edge.service import SystemdNotifier, install_stop_handlers, restore_handlers

    pipeline = build_pipeline(s)
    health = _attach_health(pipeline, s)
    notifier = SystemdNotifier()
    pipeline.heartbeat = notifier.heartbeat
    previous = install_stop_handlers(pipeline.stop)
    notifier.ready(f"detecting on {s.source}")
    try:
        return pipeline.run()
    finally:
        if health is not None:  # the pipeline closes it; not when it failed to start
            health.close()
        notifier.stopping()
        restore_handlers(previous)


def _attach_health(pipeline: Pipeline, s: RunSettings) -> Health | None:
    """Health monitor + metrics from ``s.config`` (edge.health.attach), or None. When they
    cannot start (metrics port taken...), the already-built sinks are closed first."""
    if s.config is None:
        return None
    from edge.health import alert_manager, attach

    try:
        return attach(pipeline, s.config, alert_manager(s.extra_sinks), delegate=s.delegate,
                      model=s.model)
    except Exception:
        close_each(pipeline.sinks)
        raise

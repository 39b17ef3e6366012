"""The device pipeline: capture -> preprocess -> invoke -> decode -> NMS -> outputs.

Capture runs on its own thread (``edge.sources.capture``) and, by default, makes the model
input there too, overlapping the previous frame's invoke; everything else runs on the
caller's thread in a tight loop, so a frame is never copied into a queue. Every frame
carries its capture time; per-stage latency goes into bounded percentile windows and is
reported every ``stats_interval_s`` to the log and to sinks that take stats (MQTT).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from edge.core.frame import FrameResult, ResultSink
from edge.detector import Detector
from edge.outputs.summary import fps_label
from edge.sources.base import FrameSource
from edge.sources.capture import CaptureThread, ReconnectPolicy
from edge.stats import LatencyStats

log = logging.getLogger(__name__)


@dataclass
class PipelineOptions:
    """latency_budget_ms: capture-to-output bound. Live frames older than this when the
    pipeline gets to them are dropped (counted), never queued; finite sources (files)
    are processed whole and frames over budget are only counted."""

    latency_budget_ms: float | None = None
    max_frames: int | None = None
    stats_interval_s: float = 10.0
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)
    frame_timeout_s: float | None = None
    # the capture thread makes the model input, so where a core is free the resize overlaps the
    # previous frame's invoke instead of adding to every frame (on a 2-core VM the FPS effect
    # was within noise, docs/benchmarks.md; a Pi's 720p resize costs a few ms). A live frame
    # overwritten before use was preprocessed for nothing: False saves that CPU.
    preprocess_on_capture: bool = True


def close_each(closeables: Sequence[object]) -> None:
    """``close()`` every one; a failure is logged, never raised: one bad output must not keep
    the others open (nor hide the error that made the caller close them)."""
    for c in closeables:
        try:
            c.close()
        except Exception as e:  # noqa: BLE001
            log.error("closing %s failed: %s", type(c).__name__, e)


class Pipeline:
    def __init__(
        self,
        detector: Detector,
        source: FrameSource,
        sinks: Sequence[ResultSink] = (),
        options: PipelineOptions | None = None,
        on_stats: Callable[[dict], None] | None = None,
        heartbeat: Callable[[], None] | None = None,
    ) -> None:
        self.detector = detector
        self.source = source
        self.sinks = list(sinks)
        self.options = options or PipelineOptions()
        self.on_stats = on_stats
        self.heartbeat = heartbeat
        self.stats = LatencyStats()
        self.sink_errors: dict[str, int] = {}
        self._stop = threading.Event()
        self.capture: CaptureThread | None = None
        # read by health checks and metrics on other threads (time.monotonic() values)
        self.started_at: float | None = None
        self.last_detect_at: float | None = None  # the last frame out of the detector
        self.detect_error: BaseException | None = None  # what ended the run from the detector
        # called with each frame's complete timings (ms per stage), after the outputs
        self.frame_observers: list[Callable[[dict[str, float]], None]] = []

    def stop(self) -> None:
        """End after the current frame; also wakes a pipeline waiting on a dead camera."""
        self._stop.set()
        if self.capture is not None:
            self.capture.request_stop()

    def run(self) -> dict:
        """Process until the source ends, ``max_frames`` or ``stop()``; returns the summary."""
        opts = self.options
        prepare = self.detector.preprocess if opts.preprocess_on_capture else None
        self.capture = CaptureThread(self.source, opts.reconnect, max_frames=opts.max_frames,
                                     prepare=prepare)
        self.capture.start()
        self.started_at = time.monotonic()
        self.last_detect_at = self.detect_error = None
        budget = opts.latency_budget_ms
        live = self.capture.latest_only
        next_stats = time.monotonic() + opts.stats_interval_s
        dropped = 0
        det = self.detector
        try:
            while not self._stop.is_set():
                t_wait = time.monotonic()
                frame = self._next_frame()
                if frame is None:
                    break
                t0 = time.monotonic()
                age_ms = (t0 - frame.t_capture) * 1e3
                if live and budget is not None and age_ms > budget:
                    dropped += 1
                    self.stats.dropped_stale += 1
                    continue
                # one detector call per frame; the capture thread may have made its input
                try:
                    dets, stage_ms = det.detect_with_timings(frame.image, frame.prepared,
                                                             frame.prepare_ms)
                except Exception as e:
                    self.detect_error = e  # for health: a failing invoke (Edge TPU unplugged)
                    raise
                t3 = time.monotonic()
                self.last_detect_at = t3
                timings = {"capture_wait": (t0 - t_wait) * 1e3, **stage_ms}
                # outputs see capture->detections; "total" below adds their own cost
                timings["latency"] = (t3 - frame.t_capture) * 1e3
                result = FrameResult(frame, dets, timings, dropped)
                dropped = 0
                self._emit(result)
                t4 = time.monotonic()
                timings["output"] = (t4 - t3) * 1e3
                timings["total"] = (t4 - frame.t_capture) * 1e3
                if budget is not None and timings["total"] > budget:
                    self.stats.over_budget += 1
                self.stats.add(timings)
                self._observe(timings)
                if self.heartbeat is not None:
                    self.heartbeat()
                if t4 >= next_stats:
                    self._report()
                    next_stats = t4 + opts.stats_interval_s
        finally:
            self.capture.stop()
            summary = self.summary()
            close_each(self.sinks)
        return summary

    def _next_frame(self):
        """Wait for a frame, feeding the watchdog meanwhile: a camera that is being
        reconnected is not a hung process, but a hung invoke is (no heartbeats then)."""
        timeout = self.options.frame_timeout_s
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
            try:
                return self.capture.get(timeout=step)
            except TimeoutError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f"no frame from {self.source.name} within {timeout} s") from None
                if self.heartbeat is not None:
                    self.heartbeat()
                if self._stop.is_set():
                    return None

    def _emit(self, result: FrameResult) -> None:
        for sink in self.sinks:
            try:
                sink.handle(result)
            except Exception as e:  # noqa: BLE001 - counted + logged; detection keeps going
                name = type(sink).__name__
                self.sink_errors[name] = self.sink_errors.get(name, 0) + 1
                log.error("output %s failed on frame %d: %s", name, result.frame.index, e)

    def _observe(self, timings: dict[str, float]) -> None:
        for observer in self.frame_observers:
            try:
                observer(timings)
            except Exception as e:  # noqa: BLE001 - counted + logged; detection keeps going
                name = getattr(observer, "__qualname__", type(observer).__name__)
                self.sink_errors[name] = self.sink_errors.get(name, 0) + 1
                log.error("frame observer %s failed: %s", name, e)

    def summary(self) -> dict:
        s = self.stats.summary()
        if self.capture is not None:
            s["capture"] = {"captured": self.capture.stats.captured,
                            "overwritten": self.capture.stats.overwritten,
                            "reconnects": self.capture.stats.reconnects}
        s["sink_errors"] = dict(self.sink_errors)
        # a file's FPS is throughput, not a frame rate: readers must be able to tell
        s["live"] = bool(self.capture.latest_only) if self.capture is not None else True
        return s

    def _report(self) -> None:
        live = self.capture is None or self.capture.latest_only
        log.info("%s%s", self.stats.format_line(), "" if live else f" ({fps_label(False)})")
        stats = self.summary()
        for sink in self.sinks:
            publish = getattr(sink, "publish_stats", None)
            if publish is not None:
                try:
                    publish(stats)
                except Exception as e:  # noqa: BLE001
                    log.error("stats to %s failed: %s", type(sink).__name__, e)
        if self.on_stats is not None:
            self.on_stats(stats)

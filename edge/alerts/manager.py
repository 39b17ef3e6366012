"""AlertManager: the pipeline's ResultSink for alerts.

On the pipeline thread it only runs the rules and the tracker (tens of microseconds for a
handful of boxes) and hands each event to the worker of every sink the rule names; JPEG
encoding, disk and network I/O happen on the sinks' threads (``dispatch.py``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence

from edge.alerts.dispatch import SinkRunner
from edge.alerts.engine import RuleEngine
from edge.alerts.events import AlertEvent
from edge.alerts.open_events import OpenEvents, restart_end
from edge.core.frame import Frame, FrameResult

log = logging.getLogger(__name__)


class AlertManager:
    """engines: one per rule. runners: sink name -> worker. routes: rule name -> sink names.
    open_events: where open events are recorded so a run killed mid-event can be ended by
    the next start (``end_left_open``); None: not recorded."""

    def __init__(self, engines: Sequence[RuleEngine], runners: Mapping[str, SinkRunner],
                 routes: Mapping[str, Sequence[str]], open_events: OpenEvents | None = None) -> None:
        self.engines = list(engines)
        self.open_events = open_events
        self.runners = dict(runners)
        self.routes = {k: list(v) for k, v in routes.items()}
        self.counts = {"frames": 0, "start": 0, "update": 0, "end": 0, "rule_errors": 0,
                       "ended_on_restart": 0}
        self._last_frame: Frame | None = None
        self._closed = False
        self.rules_ms_max = 0.0

    def handle(self, result: FrameResult) -> None:
        t0 = time.perf_counter()
        self.counts["frames"] += 1
        self._last_frame = result.frame
        for engine in self.engines:
            try:
                events = engine.step(result.frame, result.detections)
            except Exception as e:  # noqa: BLE001 - one broken rule must not stop the others
                self.counts["rule_errors"] += 1
                log.exception("rule %s failed on frame %d: %s", engine.rule.name,
                              result.frame.index, e)
                continue
            for event in events:
                self._dispatch(event)
        self.rules_ms_max = max(self.rules_ms_max, (time.perf_counter() - t0) * 1e3)

    def end_left_open(self) -> int:
        """Send ``end`` (reason ``restart``) for every event the last run left open (it was
        killed before it could end them); returns how many. Call before the first frame."""
        if self.open_events is None:
            return 0
        left = self.open_events.load()
        for last in left:
            try:
                event = restart_end(last)
            except (KeyError, TypeError, ValueError) as e:
                log.error("%s: skipping an unreadable open event %r: %s",
                          self.open_events.path, last.get("id"), e)
                continue
            log.warning("event %s (rule %s, %s) was left open by the last run: ending it "
                        "(reason restart)", event.id, event.rule, event.label)
            self.counts["ended_on_restart"] += 1
            # a rule renamed or removed since: its consumers still need the end
            self._dispatch(event, self.routes.get(event.rule, list(self.runners)))
        self.open_events.clear()
        return self.counts["ended_on_restart"]

    def _dispatch(self, event: AlertEvent, sinks: Sequence[str] | None = None) -> None:
        self.counts[event.phase] += 1
        log.info("event %s %s: rule %s, %s %.2f", event.phase, event.id, event.rule,
                 event.label, event.best_score)
        if self.open_events is not None:
            self.open_events.note(event)
        for name in self.routes.get(event.rule, ()) if sinks is None else sinks:
            self.runners[name].submit(event)

    def publish_stats(self, stats: dict) -> None:
        """Called by the pipeline every stats interval; forwarded (with alert counters) to
        sinks that publish stats (MQTT). Never blocks."""
        payload = dict(stats, alerts=self.stats())
        for runner in self.runners.values():
            if hasattr(runner.sink, "publish_stats"):
                runner.submit_stats(payload)

    def stats(self) -> dict:
        return {**self.counts, "active": sum(e.active for e in self.engines),
                "sinks": {name: r.stats() for name, r in self.runners.items()}}

    def close(self, timeout: float = 10.0) -> None:
        """End open events (reason ``shutdown``), deliver, close every sink."""
        if self._closed:
            return
        self._closed = True
        for engine in self.engines:
            for event in engine.close(self._last_frame):
                self._dispatch(event)
        # in parallel: the MQTT drain and a buzzer pulse finishing should not add up
        closers = [threading.Thread(target=r.close, args=(timeout,), name=f"close-{n}")
                   for n, r in self.runners.items()]
        for t in closers:
            t.start()
        for t in closers:
            t.join(timeout + 15.0)
        failed = {n: r.counts["failed"] for n, r in self.runners.items() if r.counts["failed"]}
        if failed:
            log.error("alert messages lost after retries, per sink: %s", failed)

"""One worker thread per sink, so a slow webhook never delays the buzzer and no sink ever
runs on the pipeline thread. Each worker has a bounded queue: when a sink falls that far
behind, the oldest waiting message is dropped (counted, logged) rather than growing memory.
Failures are counted, logged and retried with backoff; after the last retry the message is
counted as failed and logged as lost — never silently."""

from __future__ import annotations

import collections
import logging
import threading
import time

from edge.alerts.events import AlertEvent
from edge.alerts.sinks.base import AlertSink, RetryPolicy

log = logging.getLogger(__name__)


class SinkRunner:
    def __init__(self, name: str, sink: AlertSink, maxsize: int = 1000) -> None:
        self.name = name
        self.sink = sink
        self.retry: RetryPolicy = getattr(sink, "retry", None) or RetryPolicy()
        self.maxsize = maxsize
        self.counts = {"published": 0, "errors": 0, "retried": 0, "failed": 0, "overflow": 0}
        self._items: collections.deque = collections.deque()
        self._cond = threading.Condition()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"alert-sink-{name}", daemon=True)
        self._thread.start()

    def submit(self, event: AlertEvent) -> None:
        """Never blocks."""
        self._put(("event", event))

    def submit_stats(self, stats: dict) -> None:
        self._put(("stats", stats))

    def _put(self, item: tuple) -> None:
        with self._cond:
            if len(self._items) >= self.maxsize:
                self._items.popleft()
                self.counts["overflow"] += 1
                if self.counts["overflow"] in (1, 10, 100) or self.counts["overflow"] % 1000 == 0:
                    log.warning("alert sink %s is %d messages behind; dropped the oldest "
                                "(%d dropped so far)", self.name, self.maxsize,
                                self.counts["overflow"])
            self._items.append(item)
            self._cond.notify()

    @property
    def pending(self) -> int:
        return len(self._items)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items and not self._closing.is_set():
                    self._cond.wait()
                if not self._items:
                    return
                kind, payload = self._items.popleft()
            if kind == "stats":
                try:
                    self.sink.publish_stats(payload)  # type: ignore[attr-defined]
                except Exception as e:  # noqa: BLE001 - stats are periodic; next one replaces it
                    self.counts["errors"] += 1
                    log.error("alert sink %s: stats failed: %s", self.name, e)
                continue
            self._deliver(payload)

    def _deliver(self, event: AlertEvent) -> None:
        delay = self.retry.backoff_s
        for attempt in range(self.retry.retries + 1):
            try:
                self.sink.publish(event)
                self.counts["published"] += 1
                return
            except Exception as e:  # noqa: BLE001 - counted, logged, retried below
                self.counts["errors"] += 1
                last = attempt == self.retry.retries
                log.error("alert sink %s: %s of event %s failed (attempt %d/%d): %s%s", self.name,
                          event.phase, event.id, attempt + 1, self.retry.retries + 1, e,
                          "; giving up" if last else f"; retrying in {delay:.1f} s")
                if last:
                    self.counts["failed"] += 1
                    return
                self.counts["retried"] += 1
                # a shutdown shortens the wait but still makes the attempts
                self._closing.wait(delay)
                delay *= 2

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (up to ``timeout``), then close the sink."""
        deadline = time.monotonic() + timeout
        self._closing.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            log.error("alert sink %s did not finish within %.0f s; %d messages undelivered",
                      self.name, timeout, len(self._items))
        try:
            self.sink.close()
        except Exception as e:  # noqa: BLE001 - one sink must not stop the others closing
            log.error("alert sink %s: close failed: %s", self.name, e)

    def stats(self) -> dict:
        out = dict(self.counts, pending=self.pending)
        extra = getattr(self.sink, "stats", None)
        if callable(extra):
            out.update(extra())
        return out

"""Health transitions to a configured webhook: each change POSTs the health JSON (plus
``changed``: the transitions that caused it) to a ``webhooks.<name>`` endpoint, from this
notifier's own thread so a slow endpoint never delays the checks. Messages are delivered
in order, each retried with the webhook's backoff; one that still fails is counted and
logged as lost. The queue is bounded (the oldest is dropped, counted, when it overflows)."""

from __future__ import annotations

import collections
import json
import logging
import threading

from edge.alerts.config import WebhookConfig
from edge.alerts.sinks.webhook import post_json
from edge.health.states import Transition

log = logging.getLogger(__name__)
_MAX_PENDING = 100


class HealthWebhook:
    def __init__(self, name: str, cfg: WebhookConfig) -> None:
        self.name = name
        self.cfg = cfg
        self.counts = {"sent": 0, "retried": 0, "failed": 0, "overflow": 0}
        self._items: collections.deque[bytes] = collections.deque()
        self._cond = threading.Condition()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"health-webhook-{name}",
                                        daemon=True)
        self._thread.start()

    def notify(self, payload: dict, changed: list[Transition]) -> None:
        """Queue one POST; never blocks."""
        body = dict(payload, changed=[{"state": t.name, "on": t.on, "detail": t.detail}
                                      for t in changed])
        with self._cond:
            if len(self._items) >= _MAX_PENDING:
                self._items.popleft()
                self.counts["overflow"] += 1
                log.warning("health webhook %s: %d messages behind; dropped the oldest",
                            self.name, _MAX_PENDING)
            self._items.append(json.dumps(body, separators=(",", ":")).encode())
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items and not self._closing.is_set():
                    self._cond.wait()
                if not self._items:
                    return
                body = self._items.popleft()
            self._deliver(body)

    def _deliver(self, body: bytes) -> None:
        delay = self.cfg.backoff_s
        for attempt in range(self.cfg.retries + 1):
            try:
                self._post(body)
                self.counts["sent"] += 1
                return
            except RuntimeError as e:
                last = attempt == self.cfg.retries
                log.error("health webhook %s failed (attempt %d/%d): %s%s", self.name, attempt + 1,
                          self.cfg.retries + 1, e, "; giving up" if last else
                          f"; retrying in {delay:.1f} s")
                if last:
                    self.counts["failed"] += 1
                    return
                self.counts["retried"] += 1
                self._closing.wait(delay)  # a shutdown shortens the wait, not the attempts
                delay *= 2

    def _post(self, body: bytes) -> None:
        post_json(self.name, self.cfg, body, "edge-health")

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (up to ``timeout``), then stop."""
        self._closing.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("health webhook %s: %d messages undelivered at shutdown", self.name,
                      len(self._items))

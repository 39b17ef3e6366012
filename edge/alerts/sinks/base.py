"""The sink interface. Sinks run on their own worker thread (``edge.alerts.dispatch``), so
``publish`` may take a few milliseconds or raise; it must not block for long (network sinks
use timeouts). A raised exception is counted, logged and retried per ``retry``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from edge.alerts.events import AlertEvent


@dataclass(frozen=True)
class RetryPolicy:
    """retries: attempts after the first failure; backoff_s doubles after each attempt."""

    retries: int = 3
    backoff_s: float = 0.5


@runtime_checkable
class AlertSink(Protocol):
    def publish(self, event: AlertEvent) -> None: ...

    def close(self) -> None: ...

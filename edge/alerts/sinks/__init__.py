"""Alert sinks: each takes its own config section and implements ``AlertSink``."""

from edge.alerts.sinks.base import AlertSink, RetryPolicy

__all__ = ["AlertSink", "RetryPolicy"]

"""HTTP POST of each event's JSON (stdlib urllib). One attempt per call; the sink worker
retries with backoff per ``webhooks.<name>.retries`` / ``backoff_s``."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from edge.alerts.config import WebhookConfig
from edge.alerts.events import AlertEvent
from edge.alerts.sinks.base import RetryPolicy


def post_json(name: str, cfg: WebhookConfig, body: bytes, user_agent: str) -> None:
    """POST ``body`` to ``cfg.url``; RuntimeError naming ``webhooks.<name>`` on an HTTP error
    or an unreachable host (the caller's retry policy decides what happens next)."""
    headers = {"Content-Type": "application/json", "User-Agent": user_agent, **cfg.headers}
    req = urllib.request.Request(cfg.url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=cfg.timeout_s) as resp:
            resp.read()
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"webhooks.{name}: {cfg.url} answered HTTP {e.code}") from e
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise RuntimeError(f"webhooks.{name}: {cfg.url} unreachable: {reason}") from e


class WebhookSink:
    def __init__(self, name: str, cfg: WebhookConfig) -> None:
        self.name = name
        self.cfg = cfg
        self.retry = RetryPolicy(cfg.retries, cfg.backoff_s)
        self.sent = 0

    def publish(self, event: AlertEvent) -> None:
        if event.phase not in self.cfg.phases:
            return
        post_json(self.name, self.cfg, json.dumps(event.to_dict()).encode(), "edge-alerts")
        self.sent += 1

    def stats(self) -> dict:
        return {"sent": self.sent}

    def close(self) -> None:
        pass

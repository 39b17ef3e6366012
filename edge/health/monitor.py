"""The health monitor: a thread that snapshots the running device every
``check_interval_s``, evaluates the states (``checks.py``), logs each transition and sends
the whole set, retained, to ``<prefix>/<device>/health`` through the MQTT sink's on-disk
queue whenever a state changes (and at the first check)."""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from edge.health.checks import Snapshot, evaluate
from edge.health.config import HealthConfig
from edge.health.fps import FpsWindow
from edge.health.states import STATES, HealthStates, Transition
from edge.health.thermal import read_temp_c, read_throttled

if TYPE_CHECKING:
    from edge.alerts.sinks.mqtt import MqttSink
    from edge.pipeline import Pipeline

log = logging.getLogger(__name__)


class HealthMonitor:
    """``mqtt``: where the health JSON goes (None: logged only). ``delegate``: what the
    config asked for (``cpu`` / ``edgetpu``). ``state_dir``: whose disk ``disk_min_free_mb``
    watches (default: the MQTT queue's folder)."""

    def __init__(self, pipeline: Pipeline, cfg: HealthConfig, device: str, *,
                 mqtt: MqttSink | None = None, delegate: str = "cpu",
                 state_dir: Path | None = None, fps: FpsWindow | None = None) -> None:
        self.pipeline = pipeline
        self.cfg = cfg
        self.device = device
        self.mqtt = mqtt
        self.delegate = delegate
        self.state_dir = state_dir if state_dir is not None else (
            mqtt.queue_path.parent if mqtt is not None else None)
        self.fps = fps or FpsWindow(cfg.fps_window_s)
        self.states = HealthStates(STATES)
        self.counts = {"checks": 0, "transitions": 0, "published": 0, "publish_errors": 0}
        # called with (health JSON, transitions) on every change (health webhooks)
        self.listeners: list[Callable[[dict, list[Transition]], None]] = []
        self.t0 = time.monotonic()
        self._warned: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edge-health", daemon=True)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> HealthMonitor:
        if self.mqtt is not None:
            self.mqtt.enable_health(STATES)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _run(self) -> None:
        # the first (retained) message waits for the first detection, so a healthy box
        # says "frames through the model", not "starting"; at most until a stall would show
        first_by = self.t0 + min(self.cfg.camera_stall_s, self.cfg.detector_stall_s)
        while self.pipeline.last_detect_at is None and time.monotonic() < first_by:
            if self._stop.wait(min(0.1, self.cfg.check_interval_s)):
                return
        while True:
            try:
                self.check()
            except Exception:  # noqa: BLE001 - a bug in one check must not end monitoring
                log.exception("health check failed")
            if self._stop.wait(self.cfg.check_interval_s):
                return

    # -- one evaluation -------------------------------------------------------------------
    def check(self, now: float | None = None) -> list[Transition]:
        """Evaluate every state; log and publish what changed. Returns the transitions."""
        first = not self.states.states
        snap = self.snapshot(time.monotonic() if now is None else now)
        was_on = {n: self.states.is_on(n) for n in STATES}
        changes = self.states.update(evaluate(snap, self.cfg, was_on))
        self.counts["checks"] += 1
        self.counts["transitions"] += len(changes)
        for t in changes:
            if t.on:
                log.warning("health: %s ON: %s", t.name, t.detail)
            else:
                log.info("health: %s cleared after %.1f s (%s)", t.name, t.after_s, t.detail)
        if first or changes:
            self.publish()
        if changes:
            payload = self.states.payload(self.device)
            for listener in self.listeners:
                try:
                    listener(payload, changes)
                except Exception as e:  # noqa: BLE001 - counted and logged; checks go on
                    self.counts["publish_errors"] += 1
                    log.error("health: notifying %s failed: %s", listener, e)
        return changes

    def publish(self) -> None:
        if self.mqtt is None:
            return
        payload = json.dumps(self.states.payload(self.device), separators=(",", ":"))
        try:
            self.mqtt.publish_health(payload.encode())
            self.counts["published"] += 1
        except Exception as e:  # noqa: BLE001 - counted and logged; the next change retries
            self.counts["publish_errors"] += 1
            log.error("health: could not queue the health message: %s", e)

    def snapshot(self, now: float) -> Snapshot:
        p = self.pipeline
        cap = p.capture
        errors: dict[str, str] = {}
        kw: dict = {}
        if cap is not None:
            kw.update(capture_running=not cap.ended, live=cap.latest_only,
                      last_frame_at=cap.last_frame_at, reconnecting=cap.reconnecting,
                      reconnect_attempt=cap.reconnect_attempt, pending_since=cap.pending_since)
        if self.mqtt is not None:
            q = self.mqtt.queue
            kw.update(queue_len=len(q), queue_max=q.max_messages, queue_bytes=q.bytes,
                      queue_max_bytes=q.max_bytes)
        if self.cfg.disk_min_free_mb and self.state_dir is not None:
            where = _existing(self.state_dir)
            try:
                kw.update(disk_free_mb=shutil.disk_usage(where).free / 1048576, disk_path=str(where))
            except OSError as e:
                errors["queue_full"] = self._warn_once("disk", f"cannot read free space of {where}: {e}")
        try:
            kw["temp_c"] = read_temp_c(self.cfg.thermal_path)
        except (OSError, ValueError) as e:
            errors["throttled"] = self._warn_once("temp", str(e))
        try:
            kw["throttled_bits"] = read_throttled(self.cfg.vcgencmd)
        except RuntimeError as e:
            errors["throttled"] = self._warn_once("vcgencmd", str(e))
        backend = getattr(p.detector, "backend", None)
        return Snapshot(
            now=now,
            started_at=p.started_at if p.started_at is not None else self.t0,
            source=p.source.name,
            last_detect_at=p.last_detect_at,
            dropped_stale=p.stats.dropped_stale,
            fps=self.fps.sample(now, p.stats.frames),
            delegate_expected=self.delegate,
            delegate_running=getattr(backend, "delegate", "cpu"),
            detect_error=None if p.detect_error is None else str(p.detect_error),
            probe_errors=errors,
            **kw,
        )

    def _warn_once(self, key: str, message: str) -> str:
        if key not in self._warned:
            self._warned.add(key)
            log.warning("health: %s", message)
        return message


def _existing(path: Path) -> Path:
    """``path`` or its nearest existing parent (the queue folder is made at first use)."""
    for p in (path, *path.parents):
        if p.exists():
            return p
    return path

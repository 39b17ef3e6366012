"""The capture thread: reads a source on its own thread and hands over frames.

Live sources (cameras, streams) keep only the *latest* frame: a slow model must never
make the camera lag seconds behind, so an untaken frame is overwritten (and counted).
Finite sources (files, folders) hand over every frame: the reader waits for the
pipeline, so nothing is skipped unless the pipeline's latency budget says so.
A live source that drops is reopened with exponential backoff.
With ``prepare`` the thread also makes the model input, so it overlaps the previous
frame's invoke when a core is free for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge.core.frame import Frame
from edge.sources.base import FrameSource, SourceDisconnected, SourceError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReconnectPolicy:
    initial_s: float = 0.5
    max_s: float = 30.0
    max_attempts: int | None = None  # None: keep trying (a device at boot should)

    def delays(self):
        d, n = self.initial_s, 0
        while self.max_attempts is None or n < self.max_attempts:
            yield d
            d = min(d * 2, self.max_s)
            n += 1


@dataclass
class CaptureStats:
    captured: int = 0
    overwritten: int = 0  # live frames replaced before the pipeline took them
    reconnects: int = 0


class CaptureThread:
    def __init__(self, source: FrameSource, reconnect: ReconnectPolicy | None = None,
                 latest_only: bool | None = None, max_frames: int | None = None,
                 prepare: Callable[[np.ndarray], Any] | None = None) -> None:
        self.source = source
        self.prepare = prepare
        self.reconnect = reconnect or ReconnectPolicy()
        self.latest_only = source.is_live if latest_only is None else latest_only
        self.max_frames = max_frames
        self.stats = CaptureStats()
        self._cond = threading.Condition()
        self._slot: Frame | None = None
        self._ended = False
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edge-capture", daemon=True)
        # read by health checks on other threads; written by this thread only
        self.last_frame_at: float | None = None  # time.monotonic() of the last frame read
        self.reconnecting = False
        self.reconnect_attempt = 0  # failed reopen attempts in the current outage
        # time.monotonic() since when a frame has been waiting for the pipeline (None: none
        # waits); overwriting a waiting live frame keeps it: the wait has not ended
        self.pending_since: float | None = None

    def start(self) -> CaptureThread:
        self.source.open()  # open errors surface in the caller, with their message
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Wake everyone up and end; safe from any thread (signal handlers, other tools)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()

    def stop(self) -> None:
        self.request_stop()
        self._thread.join(timeout=5)
        self.source.close()

    def get(self, timeout: float | None = None) -> Frame | None:
        """Next frame; None when the source has ended. Raises the source's fatal error."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._slot is None and not self._ended and not self._stop.is_set():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"no frame from {self.source.name} within {timeout} s")
                self._cond.wait(remaining)
            frame, self._slot = self._slot, None
            self.pending_since = None
            self._cond.notify_all()
            if frame is None and self._error is not None:
                raise self._error
            return frame

    @property
    def ended(self) -> bool:
        return self._ended

    def _put(self, frame: Frame) -> bool:
        with self._cond:
            if self.latest_only:
                if self._slot is not None:
                    self.stats.overwritten += 1
            else:
                while self._slot is not None and not self._stop.is_set():
                    self._cond.wait(0.5)
                if self._stop.is_set():
                    return False
            self._slot = frame
            if self.pending_since is None:
                self.pending_since = time.monotonic()
            self._cond.notify_all()
        return True

    def _prepare(self, image: np.ndarray) -> tuple[Any, float]:
        if self.prepare is None:
            return None, 0.0
        t0 = time.monotonic()
        try:
            prepared = self.prepare(image)
        except Exception:  # noqa: BLE001 - the pipeline thread redoes it and raises it there
            return None, 0.0
        return prepared, (time.monotonic() - t0) * 1e3

    def _finish(self, error: BaseException | None = None) -> None:
        with self._cond:
            self._ended = True
            self._error = error
            self._cond.notify_all()

    def _run(self) -> None:
        index = 0
        try:
            while not self._stop.is_set():
                if self.max_frames is not None and index >= self.max_frames:
                    break
                try:
                    image = self.source.read()
                except SourceDisconnected as e:
                    if not self._reopen(e):
                        return
                    continue
                if image is None:
                    log.info("%s: end of source after %d frames", self.source.name, index)
                    break
                t_capture, wall = time.monotonic(), time.time()
                self.last_frame_at = t_capture
                prepared, prepare_ms = self._prepare(image)
                frame = Frame(image, index, t_capture, wall, self.source.name, prepared, prepare_ms)
                index += 1
                self.stats.captured += 1
                if not self._put(frame):
                    break
            self._finish()
        except Exception as e:  # noqa: BLE001 - handed to the pipeline thread, not swallowed
            log.error("capture from %s failed: %s", self.source.name, e)
            self._finish(e if isinstance(e, SourceError) else SourceError(f"{self.source.name}: {e}"))

    def _reopen(self, cause: SourceDisconnected) -> bool:
        log.warning("%s", cause)
        self.source.close()
        self.reconnecting = True
        try:
            return self._reopen_loop()
        finally:
            self.reconnecting = False
            self.reconnect_attempt = 0

    def _reopen_loop(self) -> bool:
        attempt = 0
        for delay in self.reconnect.delays():
            attempt += 1
            if self._stop.wait(delay):
                self._finish()
                return False
            try:
                self.source.open()
            except SourceError as e:
                self.reconnect_attempt = attempt
                log.warning("%s: reconnect attempt %d failed (%s); next in %.1f s",
                            self.source.name, attempt, e, min(delay * 2, self.reconnect.max_s))
                continue
            self.stats.reconnects += 1
            log.info("%s: reconnected after %d attempt(s)", self.source.name, attempt)
            return True
        self._finish(SourceError(f"{self.source.name} disconnected and did not come back after "
                                 f"{attempt} reconnect attempts; check the cable/stream URL"))
        return False

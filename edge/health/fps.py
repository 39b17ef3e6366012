"""Frames per second over a sliding time window, from samples of a frame counter."""

from __future__ import annotations

import threading
from collections import deque


class FpsWindow:
    """``sample(now, frames)`` records the pipeline's frame count at ``now``
    (``time.monotonic()``) and returns the FPS over the last ``window_s`` seconds, or None
    until samples span a whole window. Thread-safe (the health monitor and a metrics scrape
    both sample)."""

    def __init__(self, window_s: float) -> None:
        if window_s <= 0:
            raise ValueError(f"window_s must be > 0, got {window_s}")
        self.window_s = window_s
        self._samples: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()

    def sample(self, now: float, frames: int) -> float | None:
        with self._lock:
            self._samples.append((now, frames))
            # keep the newest sample at least a window old: the span is then >= window_s
            while len(self._samples) >= 2 and self._samples[1][0] <= now - self.window_s:
                self._samples.popleft()
            t0, f0 = self._samples[0]
            if now - t0 < self.window_s:
                return None
            return (frames - f0) / (now - t0)

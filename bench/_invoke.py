"""Median ``invoke()`` time of a loaded detector on one frame, shared by the conversion benches."""

from __future__ import annotations

import statistics
import time

import numpy as np


def invoke_ms(det, frame_bgr: np.ndarray, iters: int = 50, warmup: int = 5) -> float:
    """Median milliseconds of back-to-back ``invoke()`` calls (preprocessing excluded)."""
    x, _ = det.preprocess(frame_bgr)
    for _ in range(warmup):
        det.backend.invoke(x)
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        det.backend.invoke(x)
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)

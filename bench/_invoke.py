"""Median ``invoke()`` time of a loaded model on one input, shared by the conversion benches."""

from __future__ import annotations

import statistics
import time

import numpy as np


def backend_invoke_ms(backend, x: np.ndarray, iters: int = 50, warmup: int = 5) -> float:
    """Median milliseconds of back-to-back ``backend.invoke(x)`` calls."""
    for _ in range(warmup):
        backend.invoke(x)
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        backend.invoke(x)
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def invoke_ms(det, frame_bgr: np.ndarray, iters: int = 50, warmup: int = 5) -> float:
    """Median milliseconds of a detector's ``invoke()`` on one frame (preprocessing excluded)."""
    x, _ = det.preprocess(frame_bgr)
    return backend_invoke_ms(det.backend, x, iters, warmup)

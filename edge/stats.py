"""Per-stage latency percentiles and FPS over a bounded window (no growth over days)."""

from __future__ import annotations

import time

import numpy as np

STAGES = ("capture_wait", "preprocess", "invoke", "decode", "nms", "latency", "output", "total")


class LatencyStats:
    """Ring buffers of the last ``window`` samples per stage, in milliseconds."""

    def __init__(self, window: int = 1024, stages: tuple[str, ...] = STAGES) -> None:
        self.window = window
        self._buf = {s: np.zeros(window, np.float64) for s in stages}
        self._n = 0
        self.frames = 0
        self.dropped_stale = 0
        self.over_budget = 0
        self.t_start = time.monotonic()
        self._t_last = self.t_start

    def add(self, timings_ms: dict[str, float]) -> None:
        i = self._n % self.window
        for stage, buf in self._buf.items():
            buf[i] = timings_ms.get(stage, 0.0)
        self._n += 1
        self.frames += 1
        self._t_last = time.monotonic()

    def summary(self) -> dict:
        """{'fps', 'frames', 'dropped_stale', 'over_budget', 'stages': {stage: {p50,p95,p99,mean}}}."""
        k = min(self._n, self.window)
        elapsed = max(self._t_last - self.t_start, 1e-9)
        stages = {}
        for stage, buf in self._buf.items():
            if k == 0:
                continue
            p50, p95, p99 = np.percentile(buf[:k], [50, 95, 99])
            stages[stage] = {"p50": round(float(p50), 3), "p95": round(float(p95), 3),
                             "p99": round(float(p99), 3), "mean": round(float(buf[:k].mean()), 3)}
        return {"fps": round(self.frames / elapsed, 2) if self.frames else 0.0,
                "frames": self.frames, "dropped_stale": self.dropped_stale,
                "over_budget": self.over_budget, "stages": stages}

    def format_line(self) -> str:
        s = self.summary()
        parts = [f"{s['fps']:.1f} FPS", f"{s['frames']} frames"]
        for stage in ("preprocess", "invoke", "decode", "nms", "total"):
            if stage in s["stages"]:
                v = s["stages"][stage]
                parts.append(f"{stage} p50 {v['p50']:.1f}/p95 {v['p95']:.1f} ms")
        if s["dropped_stale"]:
            parts.append(f"dropped {s['dropped_stale']} stale")
        return ", ".join(parts)

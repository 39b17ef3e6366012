"""Human-readable detections, one line per frame (for a terminal; JSONL is for programs)."""

from __future__ import annotations

import sys
from typing import TextIO

from edge.core.frame import FrameResult


def format_result(result: FrameResult) -> str:
    f = result.frame
    dets = result.detections
    w, h = f.size_wh
    items = [f"{dets.label_of(int(c))} {s:.2f} [{x1:.0f},{y1:.0f},{x2:.0f},{y2:.0f}]"
             for (x1, y1, x2, y2), s, c in zip(dets.xyxy_px((w, h)), dets.scores, dets.class_ids)]
    t = result.timings_ms
    return (f"frame {f.index:>5}  {t.get('latency', 0):6.1f} ms  "
            + ("; ".join(items) if items else "-"))


class TextSink:
    def __init__(self, stream: TextIO | None = None) -> None:
        self._fh = stream or sys.stdout

    def handle(self, result: FrameResult) -> None:
        self._fh.write(format_result(result) + "\n")

    def close(self) -> None:
        self._fh.flush()

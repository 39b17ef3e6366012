"""One JSON line per processed frame: detections (pixels + normalized) and timings."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from edge.core.frame import FrameResult


def result_record(result: FrameResult) -> dict:
    f = result.frame
    return {
        "frame": f.index,
        "source": f.source,
        "time": round(f.wall_time, 6),
        "size_wh": list(f.size_wh),
        "detections": result.detections.to_records(f.size_wh),
        "timings_ms": {k: round(v, 3) for k, v in result.timings_ms.items()},
        "dropped_before": result.dropped_before,
    }


class JsonlSink:
    """Writes to a file (line-buffered, so a crash loses at most the current line) or stdout."""

    def __init__(self, path: str | Path | None = None, stream: TextIO | None = None) -> None:
        if path is not None and str(path) != "-":
            p = Path(path)
            if not p.parent.exists():
                raise FileNotFoundError(f"JSONL output folder does not exist: {p.parent}")
            self._fh: TextIO = open(p, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
            self._own = True
        else:
            self._fh = stream or sys.stdout
            self._own = False

    def handle(self, result: FrameResult) -> None:
        self._fh.write(json.dumps(result_record(result), separators=(",", ":")) + "\n")

    def close(self) -> None:
        if self._own:
            self._fh.close()
        else:
            self._fh.flush()

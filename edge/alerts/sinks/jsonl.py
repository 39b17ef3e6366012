"""JSON-lines event log: one line per event message, rotated by size."""

from __future__ import annotations

import json
from pathlib import Path

from edge.alerts.config import EventLogConfig
from edge.alerts.events import AlertEvent


class EventLogSink:
    """Appends ``event.to_dict()`` lines; at ``max_mb`` the file becomes ``path.1`` (``.1`` ->
    ``.2`` ... up to ``backups``; older ones are deleted)."""

    def __init__(self, cfg: EventLogConfig) -> None:
        self.path = Path(cfg.path)
        self.max_bytes = int(cfg.max_mb * 1024 * 1024)
        self.backups = cfg.backups
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - held open
        except OSError as e:
            raise RuntimeError(f"event_log.path: cannot open {self.path}: {e.strerror}") from e
        self.lines = 0
        self.rotations = 0

    def publish(self, event: AlertEvent) -> None:
        line = json.dumps(event.to_dict(), separators=(",", ":")) + "\n"
        if self._fh.tell() + len(line) > self.max_bytes and self._fh.tell() > 0:
            self._rotate()
        self._fh.write(line)
        # flushed per line: a power cut loses at most the line being written
        self._fh.flush()
        self.lines += 1

    def _rotate(self) -> None:
        self._fh.close()
        if self.backups == 0:
            self.path.unlink(missing_ok=True)
        else:
            oldest = self.path.with_name(f"{self.path.name}.{self.backups}")
            oldest.unlink(missing_ok=True)
            for i in range(self.backups - 1, 0, -1):
                src = self.path.with_name(f"{self.path.name}.{i}")
                if src.exists():
                    src.rename(self.path.with_name(f"{self.path.name}.{i + 1}"))
            self.path.rename(self.path.with_name(f"{self.path.name}.1"))
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        self.rotations += 1

    def stats(self) -> dict:
        return {"lines": self.lines, "rotations": self.rotations}

    def close(self) -> None:
        self._fh.close()

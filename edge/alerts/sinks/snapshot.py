"""Snapshot JPEGs on disk (full frame with the box drawn and/or a crop), newest ``keep``
files kept."""

from __future__ import annotations

import collections
import logging
import os
import re
from pathlib import Path

from edge.alerts.config import SnapshotConfig
from edge.alerts.events import AlertEvent

log = logging.getLogger(__name__)
# names we write: <epoch ms>-<rule>-<label>-<event id>-<phase>[-crop].jpg; only these are
# ever deleted, so pointing `dir` at a folder with other files is safe
_OURS = re.compile(r"^\d{13}-.+-(start|update|end)(-crop)?\.jpg$")


class SnapshotSink:
    def __init__(self, cfg: SnapshotConfig) -> None:
        self.cfg = cfg
        self.dir = Path(cfg.dir)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RuntimeError(f"snapshots.dir: cannot create {self.dir}: {e.strerror}") from e
        if not os.access(self.dir, os.W_OK):
            raise RuntimeError(f"snapshots.dir: {self.dir} is not writable")
        existing = sorted(p for p in self.dir.iterdir() if _OURS.match(p.name))
        self._files: collections.deque[Path] = collections.deque(existing)
        self.saved = 0
        self.deleted = 0
        self._prune()

    def publish(self, event: AlertEvent) -> None:
        if event.phase not in self.cfg.phases or event.image is None:
            return
        safe = lambda s: re.sub(r"[^A-Za-z0-9_.-]", "_", s)  # noqa: E731
        stem = (f"{int(event.time * 1000):013d}-{safe(event.rule)}-{safe(event.label)}-"
                f"{safe(event.id)}-{event.phase}")
        variants = ([(False, "")] if self.cfg.full else []) + ([(True, "-crop")] if self.cfg.crop else [])
        for crop, suffix in variants:
            data = event.jpeg(crop=crop, margin=self.cfg.crop_margin, quality=self.cfg.quality)
            path = self.dir / f"{stem}{suffix}.jpg"
            tmp = path.with_suffix(".tmp")
            # write then rename: a reader (or a power cut) never sees half a JPEG
            tmp.write_bytes(data)
            os.replace(tmp, path)
            self._files.append(path)
            self.saved += 1
        self._prune()

    def _prune(self) -> None:
        while len(self._files) > self.cfg.keep:
            old = self._files.popleft()
            try:
                old.unlink(missing_ok=True)
                self.deleted += 1
            except OSError as e:
                log.warning("snapshots: could not delete %s: %s", old, e)

    def stats(self) -> dict:
        return {"saved": self.saved, "deleted": self.deleted, "kept": len(self._files)}

    def close(self) -> None:
        pass

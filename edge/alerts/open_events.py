"""Events a run left open, remembered on disk so the next start can end them.

A crash (SIGKILL, power cut, OOM) while an event is active leaves consumers with a ``start``
and no ``end``: a Home Assistant sensor stuck on, an automation waiting forever. The manager
records each open event here at start/update and forgets it at end; the next start ends
whatever is left with reason ``restart`` before the first frame.

The file is a small JSON object ``{event id: last message of that event}``, rewritten whole
(temp file + ``os.replace``, so a kill mid-write leaves the previous version, never half).
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import numpy as np

from edge.alerts.events import AlertEvent

log = logging.getLogger(__name__)


def default_state_dir() -> Path:
    """Where edge keeps state when the config names no folder (same as the MQTT queue's)."""
    return Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "edge"


class OpenEvents:
    """``path``: the JSON file (``<state dir>/<device>-open-events.json``)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._open: dict[str, dict] = {}

    def load(self) -> list[dict]:
        """The events the last run left open (their last message's payload); unreadable file:
        logged, treated as empty (a corrupt record must not stop the device starting)."""
        if not self.path.is_file():
            return []
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return [d for d in data.values() if isinstance(d, dict)]
        except (OSError, ValueError, AttributeError) as e:
            log.error("%s: cannot read the events left open by the last run (%s); they stay "
                      "without an end", self.path, e)
            return []

    def note(self, event: AlertEvent) -> None:
        """Record ``event`` (start/update: open; end: closed). Disk errors are logged, never
        raised: alerting goes on without the crash record."""
        if event.phase == "end":
            if self._open.pop(event.id, None) is None:
                return
        else:
            self._open[event.id] = event.to_dict()
        self._write()

    def clear(self) -> None:
        self._open.clear()
        self._write()

    def _write(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(json.dumps(self._open, separators=(",", ":")), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as e:
            log.error("%s: cannot record open events (%s); a crash now would leave them "
                      "without an end", self.path, e)


def restart_end(last: dict) -> AlertEvent:
    """The ``end`` (reason ``restart``) of an event whose last message was ``last`` (its
    payload). Its time is now; ``end_time`` is when that last message was sent (the last
    time the object is known to have been there). No image: the frame died with the run."""
    now = time.time()
    return AlertEvent(
        id=last["id"], phase="end", seq=int(last["seq"]) + 1, rule=last["rule"],
        device=last["device"], label=last["label"], score=float(last["score"]),
        best_score=float(last["best_score"]), box=np.asarray(last["box"], np.float32),
        best_box=np.asarray(last["best_box"], np.float32),
        size_wh=(int(last["frame_size_wh"][0]), int(last["frame_size_wh"][1])),
        start_time=float(last["start_time"]), time=now, frame_index=-1,
        frame_count=int(last["frame_count"]), t_capture=time.monotonic(),
        end_time=float(last["time"]), end_reason="restart")

"""One rule's event lifecycle: filter -> track -> start / update / end messages.

Per tracked object (one physical object = one event):
- start: the track has been matched ``min_frames`` frames in a row and the rule is not
  cooling down. An object confirmed during a cooldown starts its event when the cooldown
  ends if it is still there — a persistent object is never left unreported.
- update: at most every ``update_interval_s`` and only when the best score rose or the box
  moved (IoU with the last published box < 0.8).
- end: ``end_after_frames`` frames without the object (reason ``gone``), ``max_event_s``
  reached (``max_duration``; that object raises no further event until it has gone), or
  shutdown. The rule's cooldown runs from the end of each event.
Cooldown and durations use the frames' capture clock (monotonic), so a video file processed
faster than real time behaves like the recording, scaled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.alerts.config import RuleConfig
from edge.alerts.events import AlertEvent, EndReason, Phase, new_event_id
from edge.alerts.rules import RuleFilter
from edge.alerts.tracker import IouTracker, Track
from edge.core.boxes import Detections, iou_matrix
from edge.core.frame import Frame

_MOVED_IOU = 0.8


@dataclass
class _EventState:
    id: str
    start_time: float
    t_start: float
    seq: int = 0
    t_last_msg: float = 0.0
    published_box: np.ndarray | None = None
    published_best: float = 0.0
    best_score: float = 0.0
    best_box: np.ndarray | None = None
    best_image: np.ndarray | None = None
    last_seen: float = 0.0


class RuleEngine:
    def __init__(self, rule: RuleConfig, device: str) -> None:
        self.rule = rule
        self.device = device
        self.filter = RuleFilter(rule)
        self.tracker = IouTracker(rule.track_iou, rule.min_frames, rule.end_after_frames)
        self.cooldown_until = float("-inf")
        self.events_started = 0
        self._size_wh = (0, 0)

    @property
    def active(self) -> int:
        return sum(1 for t in self.tracker.tracks if "event" in t.data)

    def step(self, frame: Frame, dets: Detections) -> list[AlertEvent]:
        """dets: boxes normalized to ``frame``. Returns this frame's messages in order."""
        self._size_wh = frame.size_wh
        sel = dets[self.filter.mask(dets)] if len(dets) else dets
        removed = self.tracker.update(sel.xyxy, sel.scores, sel.label_names)
        out: list[AlertEvent] = []
        now = frame.t_capture
        for t in removed:
            ev = t.data.get("event")
            if ev is not None:
                out.append(self._end(t, ev, frame, "gone"))
        for t in self.tracker.tracks:
            if t.matched < 0:
                continue
            t.data.setdefault("first_seen", frame.wall_time)
            ev: _EventState | None = t.data.get("event")
            if ev is not None:
                self._remember(t, ev, frame)
                limit = self.rule.max_event_s
                if limit is not None and now - ev.t_start >= limit:
                    out.append(self._end(t, ev, frame, "max_duration"))
                    t.data["expired"] = True
                elif self._wants_update(t, ev, now):
                    out.append(self._message(t, ev, frame, "update"))
            elif t.confirmed and not t.data.get("expired") and now >= self.cooldown_until:
                ev = _EventState(new_event_id(t.data["first_seen"]), t.data["first_seen"], now)
                t.data["event"] = ev
                self._remember(t, ev, frame)
                self.events_started += 1
                out.append(self._message(t, ev, frame, "start"))
        return out

    def close(self, frame: Frame | None = None) -> list[AlertEvent]:
        """End every open event (reason ``shutdown``)."""
        out = []
        for t in self.tracker.tracks:
            ev = t.data.get("event")
            if ev is not None:
                out.append(self._end(t, ev, frame, "shutdown"))
        return out

    def _remember(self, t: Track, ev: _EventState, frame: Frame) -> None:
        ev.last_seen = frame.wall_time
        if t.score > ev.best_score or ev.best_box is None:
            ev.best_score, ev.best_box, ev.best_image = t.score, t.box.copy(), frame.image

    def _wants_update(self, t: Track, ev: _EventState, now: float) -> bool:
        if now - ev.t_last_msg < self.rule.update_interval_s:
            return False
        if ev.best_score > ev.published_best:
            return True
        moved = iou_matrix(t.box[None], ev.published_box[None])[0, 0] < _MOVED_IOU
        return bool(moved)

    def _message(self, t: Track, ev: _EventState, frame: Frame, phase: Phase) -> AlertEvent:
        msg = AlertEvent(
            id=ev.id, phase=phase, seq=ev.seq, rule=self.rule.name, device=self.device,
            label=t.label, score=t.score, best_score=ev.best_score, box=t.box.copy(),
            best_box=ev.best_box.copy(), size_wh=frame.size_wh, start_time=ev.start_time,
            time=frame.wall_time, frame_index=frame.index, frame_count=t.frames,
            t_capture=frame.t_capture, image=frame.image, image_box=t.box.copy())
        ev.seq += 1
        ev.t_last_msg = frame.t_capture
        ev.published_box = t.box.copy()
        ev.published_best = ev.best_score
        return msg

    def _end(self, t: Track, ev: _EventState, frame: Frame | None, reason: EndReason) -> AlertEvent:
        t.data.pop("event", None)
        wall = frame.wall_time if frame is not None else ev.last_seen
        mono = frame.t_capture if frame is not None else ev.t_last_msg
        msg = AlertEvent(
            id=ev.id, phase="end", seq=ev.seq, rule=self.rule.name, device=self.device,
            label=t.label, score=t.score, best_score=ev.best_score, box=t.box.copy(),
            best_box=ev.best_box.copy(), size_wh=self._size_wh, start_time=ev.start_time,
            time=wall, frame_index=frame.index if frame is not None else -1,
            frame_count=t.frames, t_capture=mono, end_time=ev.last_seen, end_reason=reason,
            image=ev.best_image, image_box=ev.best_box.copy())
        ev.seq += 1
        self.cooldown_until = mono + self.rule.cooldown_s
        return msg

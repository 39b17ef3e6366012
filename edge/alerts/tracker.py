"""A small IoU tracker (SORT without the Kalman filter): one track per physical object.

Boxes of the same label are linked frame to frame by greedy highest-IoU matching. A track is
tentative until it has been matched ``min_hits`` frames in a row (a tentative track that
misses a frame is dropped: persistence means *consecutive* frames), then confirmed until it
has missed ``max_misses`` frames in a row. At the frame rates of a Pi (2-30 FPS) objects move
little between frames, which is what makes IoU alone enough.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge.core.boxes import iou_matrix


@dataclass
class Track:
    """box: last matched box, normalized xyxy (4,) float32. ``hits``/``misses`` are
    consecutive counts; ``frames`` counts every matched frame. ``matched`` is the index of
    this frame's detection, or -1 when the track missed this frame."""

    id: int
    label: str
    box: np.ndarray
    score: float
    hits: int = 1
    misses: int = 0
    frames: int = 1
    confirmed: bool = False
    matched: int = -1
    data: dict = field(default_factory=dict)  # owner's per-track state (event, best frame)


class IouTracker:
    def __init__(self, iou_threshold: float = 0.3, min_hits: int = 3, max_misses: int = 15) -> None:
        if not 0 < iou_threshold <= 1:
            raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
        if min_hits < 1 or max_misses < 1:
            raise ValueError(f"min_hits and max_misses must be >= 1, got {min_hits}, {max_misses}")
        self.iou_threshold = iou_threshold
        self.min_hits = min_hits
        self.max_misses = max_misses
        self.tracks: list[Track] = []
        self._next_id = 1

    def update(self, xyxy: np.ndarray, scores: np.ndarray, labels: list[str]) -> list[Track]:
        """Advance one frame. xyxy: (N, 4) normalized; returns the tracks removed this frame
        (confirmed ones that missed ``max_misses`` frames, tentative ones that missed one)."""
        n = len(labels)
        iou = iou_matrix(np.asarray([t.box for t in self.tracks], np.float32).reshape(-1, 4),
                         np.asarray(xyxy, np.float32).reshape(-1, 4))
        if iou.size:
            same = np.array([[t.label == lab for lab in labels] for t in self.tracks], bool)
            iou = np.where(same, iou, 0.0)
        for t in self.tracks:
            t.matched = -1
        taken = np.zeros(n, bool)
        if iou.size:
            # greedy: best pair first; a Hungarian solve buys nothing for a handful of boxes
            order = np.argsort(-iou, axis=None, kind="stable")
            used = np.zeros(len(self.tracks), bool)
            for flat in order:
                ti, di = divmod(int(flat), n)
                if iou[ti, di] < self.iou_threshold:
                    break
                if used[ti] or taken[di]:
                    continue
                used[ti] = taken[di] = True
                self.tracks[ti].matched = di
        removed: list[Track] = []
        alive: list[Track] = []
        for t in self.tracks:
            if t.matched >= 0:
                t.box = np.asarray(xyxy[t.matched], np.float32)
                t.score = float(scores[t.matched])
                t.hits += 1
                t.frames += 1
                t.misses = 0
                t.confirmed = t.confirmed or t.hits >= self.min_hits
                alive.append(t)
            else:
                t.hits = 0
                t.misses += 1
                if not t.confirmed or t.misses >= self.max_misses:
                    removed.append(t)
                else:
                    alive.append(t)
        for di in np.flatnonzero(~taken):
            t = Track(self._next_id, labels[di], np.asarray(xyxy[di], np.float32),
                      float(scores[di]), matched=int(di))
            t.confirmed = self.min_hits <= 1
            self._next_id += 1
            alive.append(t)
        self.tracks = alive
        return removed

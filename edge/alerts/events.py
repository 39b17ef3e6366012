"""The alert event: one value per message (start, update, end) and its JSON payload.

Boxes are xyxy. ``box``/``best_box`` are normalized to the camera frame (float32 (4,));
the payload adds pixel boxes (``box_px``) for a frame of ``size_wh``. Times are
``time.time()`` seconds (payloads) except ``t_capture``, which is ``time.monotonic()`` of
the frame (latency measurement only, never published).
"""

from __future__ import annotations

import random
import string
import threading
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

Phase = Literal["start", "update", "end"]
EndReason = Literal["gone", "max_duration", "shutdown", "restart"]
SCHEMA_VERSION = 1


def new_event_id(wall_time: float) -> str:
    """Frigate-style ``<epoch seconds>.<micro>-<6 random chars>``: sortable and unique."""
    suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=6))
    return f"{wall_time:.6f}-{suffix}"


@dataclass
class AlertEvent:
    """One event message. ``seq`` counts the messages of one event from 0 (start), so a
    consumer can de-duplicate QoS 1 redeliveries on (id, seq).

    image: the BGR frame this message refers to (the current frame for start/update, the
    best-scoring frame for end) — a reference, never modified; ``image_box`` is the box
    (normalized xyxy) of the object in that image.
    """

    id: str
    phase: Phase
    seq: int
    rule: str
    device: str
    label: str
    score: float
    best_score: float
    box: np.ndarray
    best_box: np.ndarray
    size_wh: tuple[int, int]
    start_time: float
    time: float
    frame_index: int
    frame_count: int
    t_capture: float
    end_time: float | None = None
    end_reason: EndReason | None = None
    image: np.ndarray | None = field(default=None, repr=False, compare=False)
    image_box: np.ndarray | None = field(default=None, repr=False, compare=False)
    _jpeg_cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False,
                                  compare=False)

    def to_dict(self) -> dict:
        """The JSON payload (docs/schemas/event.schema.json)."""
        w, h = self.size_wh
        scale = np.array([w, h, w, h], np.float64)

        def norm(b: np.ndarray) -> list[float]:
            return [round(float(v), 5) for v in np.clip(b, 0.0, 1.0)]

        def px(b: np.ndarray) -> list[float]:
            return [round(float(v), 1) for v in np.clip(b, 0.0, 1.0) * scale]

        return {
            "schema": SCHEMA_VERSION,
            "id": self.id,
            "phase": self.phase,
            "seq": self.seq,
            "device": self.device,
            "rule": self.rule,
            "label": self.label,
            "score": round(float(self.score), 4),
            "best_score": round(float(self.best_score), 4),
            "box": norm(self.box),
            "box_px": px(self.box),
            "best_box": norm(self.best_box),
            "best_box_px": px(self.best_box),
            "frame_size_wh": [int(w), int(h)],
            "start_time": round(self.start_time, 6),
            "time": round(self.time, 6),
            "end_time": None if self.end_time is None else round(self.end_time, 6),
            "end_reason": self.end_reason,
            "frame_index": int(self.frame_index),
            "frame_count": int(self.frame_count),
        }

    def jpeg(self, crop: bool = False, margin: float = 0.15, quality: int = 85) -> bytes | None:
        """JPEG of ``image`` with the box drawn (or a crop around it); None without image.

        Encoded once per variant and cached, because the MQTT and snapshot sinks both ask
        for it from their own threads."""
        if self.image is None:
            return None
        key = (crop, margin, quality)
        with self._lock:
            if key not in self._jpeg_cache:
                self._jpeg_cache[key] = render_jpeg(self.image, self.image_box if self.image_box
                                                    is not None else self.box, self.label,
                                                    self.best_score if self.phase == "end"
                                                    else self.score, crop, margin, quality)
            return self._jpeg_cache[key]


def render_jpeg(image: np.ndarray, box: np.ndarray, label: str, score: float, crop: bool,
                margin: float, quality: int) -> bytes:
    """image: (H, W, 3) uint8 BGR (not modified); box: normalized xyxy in that image."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (np.clip(np.asarray(box, np.float64), 0, 1) * [w, h, w, h]).round().astype(int)
    canvas = image.copy()
    thickness = max(2, round(min(w, h) / 200))
    cv2.rectangle(canvas, (x1, y1), (x2, y2), (0, 0, 255), thickness)
    text = f"{label} {score:.2f}"
    cv2.putText(canvas, text, (x1 + 2, max(y1 - 6, 14)), cv2.FONT_HERSHEY_SIMPLEX,
                max(0.4, min(w, h) / 800), (0, 0, 255), max(1, thickness // 2), cv2.LINE_AA)
    if crop:
        mx, my = int((x2 - x1) * margin), int((y2 - y1) * margin)
        cx1, cy1 = max(0, x1 - mx), max(0, y1 - my)
        cx2, cy2 = min(w, x2 + mx + 1), min(h, y2 + my + 1)
        if cx2 > cx1 and cy2 > cy1:
            canvas = canvas[cy1:cy2, cx1:cx2]
    ok, buf = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError(f"JPEG encoding failed for an image of shape {image.shape}")
    return buf.tobytes()

"""Draw detections on frames and save them as a video or as images (``--save``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from edge.core.boxes import Detections
from edge.core.frame import FrameResult

if TYPE_CHECKING:
    from edge.sources.base import FrameSource

log = logging.getLogger(__name__)

_PALETTE = [(56, 56, 255), (151, 157, 255), (31, 112, 255), (29, 178, 255), (49, 210, 207),
            (10, 249, 72), (23, 204, 146), (134, 219, 61), (52, 147, 26), (187, 212, 0),
            (168, 153, 44), (255, 194, 0), (147, 69, 52), (255, 115, 100), (236, 24, 0)]
VIDEO_SUFFIXES = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "mp4v", ".mov": "mp4v"}


def draw_detections(image_bgr: np.ndarray, dets: Detections) -> np.ndarray:
    """A copy of the image with boxes, labels and scores drawn."""
    out = image_bgr.copy()
    h, w = out.shape[:2]
    thick = max(1, round(min(h, w) / 300))
    for (x1, y1, x2, y2), s, c in zip(dets.xyxy_px((w, h)), dets.scores, dets.class_ids):
        color = _PALETTE[int(c) % len(_PALETTE)]
        p1, p2 = (int(x1), int(y1)), (int(x2), int(y2))
        cv2.rectangle(out, p1, p2, color, thick, cv2.LINE_AA)
        text = f"{dets.label_of(int(c))} {s:.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thick, thick)
        ty = max(p1[1], th + base)
        cv2.rectangle(out, (p1[0], ty - th - base), (p1[0] + tw, ty), color, -1)
        cv2.putText(out, text, (p1[0], ty - base), cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thick,
                    (255, 255, 255), thick, cv2.LINE_AA)
    return out


class AnnotatedSink:
    """``path`` ending in a video suffix -> one video; otherwise a folder of JPEGs.

    The video's frame rate is ``fps``, else ``source.fps`` read at the first frame (a source
    knows its rate only once opened, which happens after the sinks are built), else 15."""

    DEFAULT_FPS = 15.0

    def __init__(self, path: str | Path, fps: float | None = None, source: FrameSource | None = None) -> None:
        self.path = Path(path)
        self.fps = fps
        self.source = source
        self.is_video = self.path.suffix.lower() in VIDEO_SUFFIXES
        parent = self.path.parent if self.is_video else self.path
        if self.is_video and not parent.exists():
            raise FileNotFoundError(f"--save folder does not exist: {parent}")
        if not self.is_video:
            self.path.mkdir(parents=True, exist_ok=True)
        self._writer: cv2.VideoWriter | None = None

    def handle(self, result: FrameResult) -> None:
        img = draw_detections(result.frame.image, result.detections)
        if not self.is_video:
            cv2.imwrite(str(self.path / f"frame_{result.frame.index:06d}.jpg"), img)
            return
        if self._writer is None:
            h, w = img.shape[:2]
            fourcc = cv2.VideoWriter_fourcc(*VIDEO_SUFFIXES[self.path.suffix.lower()])
            self.fps = self.fps or getattr(self.source, "fps", None) or self.DEFAULT_FPS
            self._writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, (w, h))
            if not self._writer.isOpened():
                raise RuntimeError(f"cannot write video {self.path} (codec "
                                   f"{VIDEO_SUFFIXES[self.path.suffix.lower()]} unavailable?)")
        self._writer.write(img)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None

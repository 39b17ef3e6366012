"""OpenCV sources: camera index, V4L2 device path, RTSP/HTTP URL, video file."""

from __future__ import annotations

import logging
import os

import cv2
import numpy as np

from edge.sources.base import SourceDisconnected, SourceError

log = logging.getLogger(__name__)


class OpenCVSource:
    """cv2.VideoCapture around a camera, a stream or a file.

    size_wh / fps are requests to a camera (the driver may pick the nearest mode);
    files and streams deliver what they contain.
    """

    def __init__(self, target: int | str, is_live: bool, size_wh: tuple[int, int] | None = None,
                 fps: float | None = None, name: str | None = None) -> None:
        self.target = target
        self.is_live = is_live
        self.size_wh = size_wh
        self.requested_fps = fps
        self.name = name or str(target)
        self.fps: float | None = None
        self._cap: cv2.VideoCapture | None = None

    def open(self) -> None:
        if isinstance(self.target, str) and self.target.startswith(("rtsp://", "rtsps://")):
            # TCP avoids the smeared frames UDP gives on lossy Wi-Fi; keep user overrides
            os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
        cap = cv2.VideoCapture(self.target)
        if not cap.isOpened():
            cap.release()
            kind = "camera" if isinstance(self.target, int) or str(self.target).startswith("/dev/") \
                else ("stream" if "://" in str(self.target) else "video file")
            raise (SourceDisconnected if self.is_live else SourceError)(
                f"cannot open {kind} {self.name!r} with OpenCV")
        if self.is_live:
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # a deep driver buffer is latency
            if self.size_wh:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.size_wh[0])
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.size_wh[1])
            if self.requested_fps:
                cap.set(cv2.CAP_PROP_FPS, self.requested_fps)
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and fps > 0 else None
        self._cap = cap

    def read(self) -> np.ndarray | None:
        if self._cap is None:
            self.open()
        ok, frame = self._cap.read()
        if ok and frame is not None:
            if frame.ndim == 2:
                frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
            return frame
        if self.is_live:
            raise SourceDisconnected(f"{self.name}: no frame from the device/stream")
        return None  # end of file

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

"""Raspberry Pi cameras through picamera2 (libcamera). Only on the device."""

from __future__ import annotations

import numpy as np

from edge.sources.base import SourceDisconnected, SourceError

PICAMERA2_HINT = (
    "picamera2 is not installed: on Raspberry Pi OS run `sudo apt install -y python3-picamera2` "
    "and create the venv with --system-site-packages (pip wheels of picamera2 lack libcamera)"
)


class Picamera2Source:
    is_live = True

    def __init__(self, size_wh: tuple[int, int] = (1280, 720), fps: float | None = None,
                 camera_num: int = 0) -> None:
        self.size_wh = size_wh
        self.fps = fps
        self.camera_num = camera_num
        self.name = f"picamera2:{camera_num}"
        self._cam = None

    def open(self) -> None:
        try:
            from picamera2 import Picamera2  # type: ignore[import-not-found]
        except ImportError as e:
            raise SourceError(PICAMERA2_HINT) from e
        try:
            cam = Picamera2(self.camera_num)
            # libcamera's "RGB888" is B,G,R in memory: exactly OpenCV's BGR
            controls = {"FrameRate": float(self.fps)} if self.fps else {}
            cfg = cam.create_video_configuration(
                main={"size": tuple(self.size_wh), "format": "RGB888"}, controls=controls,
                buffer_count=2)  # few buffers = fresh frames
            cam.configure(cfg)
            cam.start()
        except Exception as e:  # noqa: BLE001 - libcamera raises bare RuntimeError/IndexError
            raise SourceDisconnected(f"{self.name}: cannot start camera ({e})") from e
        self._cam = cam

    def read(self) -> np.ndarray | None:
        if self._cam is None:
            self.open()
        try:
            return self._cam.capture_array("main")[..., :3]
        except Exception as e:  # noqa: BLE001 - any capture failure means the camera dropped
            raise SourceDisconnected(f"{self.name}: capture failed ({e})") from e

    def close(self) -> None:
        if self._cam is not None:
            try:
                self._cam.stop()
                self._cam.close()
            finally:
                self._cam = None

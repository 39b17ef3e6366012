"""A frame source over one in-memory image, shared by the benches.

It stands in for a camera with the same FrameSource interface, so a bench can measure the
pipeline's own cost without a video decoder competing for the cores."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class MemorySource:
    is_live = False
    fps = 30.0
    name = "memory"

    def __init__(self, image: np.ndarray, frames: int,
                 on_frame: Callable[[int], None] | None = None) -> None:
        self.image, self.frames, self.on_frame, self.i = image, frames, on_frame, 0

    def open(self) -> None:
        pass

    def read(self) -> np.ndarray | None:
        if self.i >= self.frames:
            return None
        self.i += 1
        if self.on_frame is not None:
            self.on_frame(self.i)
        # a new array each read, as a camera driver hands out
        return self.image.copy()

    def close(self) -> None:
        pass

"""The small interface every frame source implements."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class SourceError(RuntimeError):
    """A source that cannot be opened or has failed for good."""


class SourceDisconnected(SourceError):
    """A live source stopped delivering frames; it may come back (reconnect)."""


class FrameSource(Protocol):
    """read() -> (H, W, 3) uint8 BGR image, or None at the end of a finite source.

    Live sources raise SourceDisconnected when the device/stream drops.
    """

    name: str
    is_live: bool
    fps: float | None

    def open(self) -> None: ...

    def read(self) -> np.ndarray | None: ...

    def close(self) -> None: ...

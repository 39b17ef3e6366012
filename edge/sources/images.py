"""A single image, or a folder of images in name order."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from edge.core.image_file import read_image_bgr as read_image  # the one reader
from edge.sources.base import SourceError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


class ImageSource:
    """Images from a file or folder. A bad file in a folder is reported and skipped
    (``errors`` counts them); a single bad image is an error."""

    is_live = False
    fps = None

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = str(path)
        self.errors: list[str] = []
        self._files: list[Path] = []
        self._i = 0
        self.current: Path | None = None

    def open(self) -> None:
        if self.path.is_dir():
            self._files = sorted(p for p in self.path.iterdir()
                                 if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            if not self._files:
                raise SourceError(f"{self.path}: folder has no images ({', '.join(IMAGE_SUFFIXES)})")
        else:
            read_image(self.path)  # fail at open, not mid-run
            self._files = [self.path]

    def read(self) -> np.ndarray | None:
        if not self._files:
            self.open()
        while self._i < len(self._files):
            p = self._files[self._i]
            self._i += 1
            try:
                img = read_image(p)
            except (ValueError, FileNotFoundError) as e:
                if len(self._files) == 1:
                    raise SourceError(str(e)) from e
                log.error("skipping %s", e)
                self.errors.append(str(e))
                continue
            self.current = p
            return img
        return None

    def close(self) -> None:
        self._i = len(self._files)

"""Turn a user's ``--source`` into a FrameSource."""

from __future__ import annotations

from pathlib import Path

from edge.sources.base import FrameSource, SourceError
from edge.sources.images import IMAGE_SUFFIXES, ImageSource
from edge.sources.opencv import OpenCVSource
from edge.sources.picamera import Picamera2Source

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm", ".mjpeg", ".mjpg", ".h264", ".ts")


def open_source(spec: int | str | Path, size_wh: tuple[int, int] | None = None,
                fps: float | None = None) -> FrameSource:
    """Camera index (``0``), ``/dev/videoN``, ``picamera2[:N]``, a stream URL, a video
    file, an image, or a folder of images. Raises SourceError for anything else."""
    s = str(spec).strip()
    if isinstance(spec, int) or s.isdigit():
        return OpenCVSource(int(s), is_live=True, size_wh=size_wh, fps=fps, name=f"camera {s}")
    if s.startswith("picamera2"):
        num = int(s.split(":", 1)[1]) if ":" in s else 0
        return Picamera2Source(size_wh or (1280, 720), fps, num)
    if s.lower().startswith(STREAM_SCHEMES):
        return OpenCVSource(s, is_live=True, name=_redact(s))
    if s.startswith("/dev/"):
        if not Path(s).exists():
            raise SourceError(f"source {s}: no such device (is the camera plugged in? "
                              "`v4l2-ctl --list-devices` lists cameras)")
        return OpenCVSource(s, is_live=True, size_wh=size_wh, fps=fps)
    p = Path(s)
    if p.is_dir():
        return ImageSource(p)
    if p.is_file():
        if p.suffix.lower() in IMAGE_SUFFIXES:
            return ImageSource(p)
        return OpenCVSource(s, is_live=False)
    if p.suffix.lower() in VIDEO_SUFFIXES + IMAGE_SUFFIXES or "/" in s:
        # spelled like a file: "unknown source" would send the user looking at the syntax
        raise SourceError(f"source {s}: no such file or folder")
    raise SourceError(
        f"unknown source {s!r}: not a camera index, /dev/video device, picamera2, stream URL "
        f"({', '.join(x.rstrip(':/') for x in STREAM_SCHEMES)}), or an existing file/folder")


def _redact(url: str) -> str:
    """rtsp://user:pass@host -> rtsp://user:***@host, for logs."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        cred, host = rest.rsplit("@", 1)
        if ":" in cred:
            return f"{scheme}://{cred.split(':', 1)[0]}:***@{host}"
    return url

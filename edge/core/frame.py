"""Values that flow through the device pipeline, and the seam its outputs plug into."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from edge.core.boxes import Detections


@dataclass(frozen=True)
class Frame:
    """One captured image.

    image: (H, W, 3) uint8, BGR (OpenCV's order; picamera2 is asked for the same).
    index: frame number within the source, from 0.
    t_capture: ``time.monotonic()`` when the frame was read (for latency).
    wall_time: ``time.time()`` at capture (for payload timestamps).
    prepared: the model input made from ``image`` on the capture thread, when the pipeline
        asked for that (``(input, FrameTransform)``), else None; ``prepare_ms`` is its cost.
    """

    image: np.ndarray
    index: int
    t_capture: float
    wall_time: float
    source: str = ""
    prepared: Any = None
    prepare_ms: float = 0.0

    @property
    def size_wh(self) -> tuple[int, int]:
        h, w = self.image.shape[:2]
        return (w, h)


@dataclass
class FrameResult:
    """What the pipeline produced for one frame.

    detections: after NMS, boxes normalized to the *camera* frame.
    timings_ms: per-stage latency in ms: capture_wait, preprocess, invoke, decode, nms, and
        latency (capture -> detections ready). The pipeline adds output and total
        (capture -> all outputs done) to its statistics after the sinks ran.
    dropped_before: frames the pipeline skipped since the previous result (stale).
    """

    frame: Frame
    detections: Detections
    timings_ms: dict[str, float] = field(default_factory=dict)
    dropped_before: int = 0


@runtime_checkable
class ResultSink(Protocol):
    """Receives every FrameResult (JSONL writer, annotated video, alert manager...)."""

    def handle(self, result: FrameResult) -> None: ...

    def close(self) -> None: ...

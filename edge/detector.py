"""One model, ready to detect: preprocess -> invoke -> decode -> NMS -> camera frame.

The pipeline runs these stages on a stream; ``Detector`` is the same path for one image
(Python API, ``edge eval``, ``edge profile``), so every tool measures what the device runs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.backends.tflite import TfliteBackend
from edge.core.boxes import Detections
from edge.core.labels import check_labels, label_offset_for, load_labels
from edge.core.letterbox import INTERPOLATIONS, RESIZE_MODES, FrameTransform, resize_for_model
from edge.core.metadata import ModelMetadata, read_metadata
from edge.core.nms import nms
from edge.decoders.auto import DecoderChoice, choose_decoder
from edge.decoders.base import Decoder

log = logging.getLogger(__name__)


@dataclass
class DetectorSettings:
    score: float = 0.5
    iou: float = 0.5
    max_detections: int = 100
    class_aware: bool = True
    resize: str = "letterbox"
    pad_value: int = 114
    channel_order: str = "RGB"
    interpolation: str = "bilinear"


def to_frame(dets: Detections, tf: FrameTransform, labels: tuple[str, ...] | None) -> Detections:
    """Model-input detections -> the camera frame, clipped to it. Boxes that lay wholly in
    the letterbox padding clip to zero area: they are not objects and are dropped."""
    xyxy = np.clip(tf.to_frame(dets.xyxy), 0.0, 1.0)
    keep = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
    if not keep.all():
        xyxy, dets = xyxy[keep], dets[keep]
    return Detections(xyxy, dets.scores, dets.class_ids, labels)


class Detector:
    """A loaded model plus everything needed to turn a BGR frame into Detections."""

    def __init__(
        self,
        backend: TfliteBackend,
        choice: DecoderChoice,
        labels: list[str] | None,
        label_offset: int,
        settings: DetectorSettings,
        metadata: ModelMetadata | None = None,
    ) -> None:
        self.backend = backend
        self.decoder: Decoder = choice.decoder
        self.decoder_how = choice.how
        self.labels = labels
        self.label_offset = label_offset
        self.settings = settings
        self.metadata = metadata
        self._labels_tuple = tuple(labels[label_offset:]) if labels else None

    @classmethod
    def load(
        cls,
        model_path: str | Path,
        labels: str | Path | list[str] | None = None,
        threads: int | None = None,
        delegate: str = "cpu",
        score: float | None = None,
        iou: float | None = None,
        max_detections: int | None = None,
        decoder: str | None = None,
        resize: str | None = None,
        interpolation: str | None = None,
        label_offset: int | None = None,
        class_agnostic: bool = False,
    ) -> Detector:
        """Load a .tflite model; settings not given come from its metadata, else defaults."""
        path = Path(model_path)
        from edge.core.tflite_file import read_tflite

        md = read_metadata(read_tflite(path))
        norm = md.input.normalization if md else None
        preserve = decoder == "ssd" and md is None  # raw head of a fused model
        backend = TfliteBackend(path, threads=threads, delegate=delegate, normalization=norm,
                                preserve_all_tensors=preserve)
        choice, num_classes = choose_decoder(backend, md if decoder is None else None, decoder)
        if isinstance(labels, (str, Path)):
            label_list: list[str] | None = load_labels(labels)
            where = str(labels)
        elif labels is not None:
            label_list, where = list(labels), "labels"
        else:
            label_list, where = (list(md.labels) if md else None), f"{path} metadata"
        offset = label_offset if label_offset is not None else (
            label_offset_for(label_list, num_classes) if label_list else 0)
        if label_list is not None:
            check_labels(label_list, num_classes, offset, where)
        s = DetectorSettings()
        if md is not None:
            s = DetectorSettings(md.thresholds.score, md.thresholds.iou, md.thresholds.max_detections,
                                 True, md.input.resize, md.input.pad_value, md.input.channel_order,
                                 md.input.interpolation)
        elif choice.decoder.name in ("postprocess", "ssd"):
            s.resize = "stretch"  # TF Object Detection API SSDs are trained on stretched input
        else:
            # Ultralytics validates on INTER_AREA downscales; plain bilinear shifts YOLOv5
            # scores by up to 0.1. ("antialias" reproduces the published figures exactly
            # but costs ~6 ms per 720p frame on x86 against 0.3 ms for "area".)
            s.interpolation = "area"
        if resize is not None:
            if resize not in RESIZE_MODES:
                raise ValueError(f"resize must be one of {RESIZE_MODES}, got {resize!r}")
            s.resize = resize
        if interpolation is not None:
            if interpolation not in INTERPOLATIONS:
                raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
            s.interpolation = interpolation
        if score is not None:
            s.score = score
        if iou is not None:
            s.iou = iou
        if max_detections is not None:
            s.max_detections = max_detections
        s.class_aware = not class_agnostic
        log.info("model %s: decoder %s (%s), input %dx%d %s, resize %s", path.name,
                 choice.decoder.name, choice.how, *backend.input_wh,
                 backend.input.dtype.name, s.resize)
        return cls(backend, choice, label_list, offset, s, md)

    @property
    def input_wh(self) -> tuple[int, int]:
        return self.backend.input_wh

    def preprocess(self, image_bgr: np.ndarray) -> tuple[np.ndarray, FrameTransform]:
        """BGR frame -> model-sized uint8 image in the model's channel order + transform."""
        if image_bgr is None or image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
            shape = None if image_bgr is None else image_bgr.shape
            raise ValueError(f"expected a BGR image of shape (H, W, 3), got {shape}")
        s = self.settings
        img, tf = resize_for_model(image_bgr, self.input_wh, s.resize, s.pad_value, s.interpolation)
        channels = self.backend.input.shape[3]
        if channels == 1:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)[..., None]
        elif s.channel_order == "RGB":
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        return img, tf

    def postprocess(self, outputs: list[np.ndarray], tf: FrameTransform,
                    timings: dict[str, float] | None = None) -> Detections:
        """Float outputs -> Detections normalized to the camera frame, labelled."""
        s = self.settings
        t0 = time.perf_counter()
        dets = self.decoder(outputs, s.score)
        t1 = time.perf_counter()
        if self.decoder.needs_nms:
            dets = nms(dets, s.iou, s.class_aware, s.max_detections)
        else:
            dets = dets.sorted()[: s.max_detections]
        t2 = time.perf_counter()
        out = to_frame(dets, tf, self._labels_tuple)
        if timings is not None:
            timings["decode"] = (t1 - t0) * 1e3
            timings["nms"] = (t2 - t1) * 1e3
        return out

    def detect_with_timings(self, image_bgr: np.ndarray) -> tuple[Detections, dict[str, float]]:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        img, tf = self.preprocess(image_bgr)
        t1 = time.perf_counter()
        outputs = self.backend.invoke(img)
        t2 = time.perf_counter()
        dets = self.postprocess(outputs, tf, timings)
        timings["preprocess"] = (t1 - t0) * 1e3
        timings["invoke"] = (t2 - t1) * 1e3
        return dets, timings

    def detect(self, image_bgr: np.ndarray) -> Detections:
        """Detections for one BGR image, boxes normalized to that image, by score."""
        return self.detect_with_timings(image_bgr)[0]

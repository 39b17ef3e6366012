"""One model over any backend: model input -> invoke -> decode -> NMS -> camera frame.

The pipeline calls ``detect_with_timings`` per frame; ``edge eval``, ``edge profile``,
conversion parity and training's val mAP call ``detect`` / ``detect_batch`` on the same
class (TFLite or Keras backend), so every tool measures what the device runs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from edge.backends.base import Backend
from edge.core.boxes import Detections
from edge.core.labels import check_labels, label_offset_for, load_labels
from edge.core.letterbox import INTERPOLATIONS, RESIZE_MODES, FrameTransform
from edge.core.metadata import ModelMetadata, Normalization, read_metadata
from edge.core.model_input import InputLayout, model_input
from edge.core.nms import nms
from edge.decoders.auto import DecoderChoice, choose_decoder
from edge.decoders.base import Decoder
from edge.decoders.names import DECODER_NAMES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DetectorSettings:
    """How a loaded model is run; read once, when the Detector is built."""

    score: float = 0.5
    iou: float = 0.5
    max_detections: int = 100
    class_aware: bool = True
    resize: str = "letterbox"
    pad_value: int = 114
    channel_order: str = "RGB"
    interpolation: str = "bilinear"


@dataclass(frozen=True)
class LoadOptions:
    """What a caller may choose when loading a model; None: the model's metadata, else a
    default for its kind. Field names are the ``edge run`` flags' names."""

    labels: str | Path | list[str] | None = None
    threads: int | None = None
    delegate: str = "cpu"
    score: float | None = None
    iou: float | None = None
    max_detections: int | None = None
    decoder: str | None = None
    resize: str | None = None
    interpolation: str | None = None
    label_offset: int | None = None
    class_agnostic: bool = False

    def __post_init__(self) -> None:
        if self.resize is not None and self.resize not in RESIZE_MODES:
            raise ValueError(f"resize must be one of {RESIZE_MODES}, got {self.resize!r}")
        if self.interpolation is not None and self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {self.interpolation!r}")
        if self.decoder is not None and self.decoder not in DECODER_NAMES:
            raise ValueError(f"--decoder must be one of {DECODER_NAMES}, got {self.decoder!r}")


def to_frame(dets: Detections, tf: FrameTransform, labels: tuple[str, ...] | None) -> Detections:
    """Model-input detections -> the camera frame, clipped to it. Boxes that lay wholly in
    the letterbox padding clip to zero area: they are not objects and are dropped."""
    xyxy = np.clip(tf.to_frame(dets.xyxy), 0.0, 1.0)
    keep = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
    if not keep.all():
        xyxy, dets = xyxy[keep], dets[keep]
    return Detections(xyxy, dets.scores, dets.class_ids, labels)


def _settings(md: ModelMetadata | None, decoder: Decoder, o: LoadOptions) -> DetectorSettings:
    if md is not None:
        s = DetectorSettings(md.thresholds.score, md.thresholds.iou, md.thresholds.max_detections,
                             True, md.input.resize, md.input.pad_value, md.input.channel_order,
                             md.input.interpolation)
    elif decoder.name in ("postprocess", "ssd"):
        s = DetectorSettings(resize="stretch")  # TF Object Detection API SSDs: stretched input
    else:
        # Foreign YOLO exports: what their own `predict` feeds them (Ultralytics LetterBox
        # and YOLOv5 detect.py: INTER_LINEAR resize, centred, pad 114), so our detections
        # match `yolo predict` on the same file. (The GUIDE's published figures were made
        # with an antialiased downscale: `--interpolation antialias` reproduces those.)
        s = DetectorSettings(resize="letterbox", pad_value=114, interpolation="bilinear")
    chosen = {k: getattr(o, k) for k in ("resize", "interpolation", "score", "iou", "max_detections")}
    return replace(s, class_aware=not o.class_agnostic, **{k: v for k, v in chosen.items() if v is not None})


def _layout(backend: Backend, md: ModelMetadata | None, s: DetectorSettings) -> InputLayout:
    spec = backend.signature.input
    if md is not None:
        norm: Normalization | None = md.input.normalization
    else:
        # Foreign models: quantized and uint8 inputs take raw pixels (their quantization
        # encodes the normalization); float inputs take pixel / 255 (YOLO/Keras convention).
        norm = None if spec.quantized or spec.dtype == np.uint8 else Normalization()
    return InputLayout(backend.signature.input_wh, spec.shape[3], s.resize, s.pad_value,
                       s.interpolation, s.channel_order, np.dtype(spec.dtype).name, spec.scale,
                       spec.zero_point, norm)


def _labels(labels: str | Path | list[str] | None, md: ModelMetadata | None,
            source: str) -> tuple[list[str] | None, str]:
    if isinstance(labels, (str, Path)):
        return load_labels(labels), str(labels)
    if labels is not None:
        return list(labels), "labels"
    return (list(md.labels) if md else None), f"{source} metadata"


class Detector:
    """A model behind any ``Backend`` plus everything needed to turn a BGR frame into
    Detections normalized to that frame."""

    def __init__(
        self,
        backend: Backend,
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
        self.layout = _layout(backend, metadata, settings)
        self._labels_tuple = tuple(labels[label_offset:]) if labels else None

    @classmethod
    def from_backend(cls, backend: Backend, metadata: ModelMetadata | None,
                     options: LoadOptions | None = None) -> Detector:
        """Decoder, labels and settings for ``backend``: from ``options``, else the
        metadata, else defaults for the recognised output layout."""
        o = options or LoadOptions()
        sig = backend.signature
        choice, num_classes = choose_decoder(sig, metadata if o.decoder is None else None, o.decoder)
        label_list, where = _labels(o.labels, metadata, sig.source)
        offset = o.label_offset if o.label_offset is not None else (
            label_offset_for(label_list, num_classes) if label_list else 0)
        if label_list is not None:
            check_labels(label_list, num_classes, offset, where)
        if o.labels is not None and metadata is not None and metadata.labels \
                and list(metadata.labels) != label_list:
            # same count, other names: every class would be silently renamed (raccoon -> cat)
            log.warning("%s renames the model's classes: metadata labels %s, given %s",
                        where, list(metadata.labels), label_list)
        return cls(backend, choice, label_list, offset, _settings(metadata, choice.decoder, o), metadata)

    @classmethod
    def load(cls, model_path: str | Path, labels: str | Path | list[str] | None = None, *,
             options: LoadOptions | None = None, **kwargs) -> Detector:
        """Load a .tflite model. ``options`` (or its fields as keywords; ``labels`` may
        also come second) override what the model's metadata says; what neither says
        takes defaults."""
        from edge.backends.tflite import TfliteBackend
        from edge.core.tflite_file import read_tflite
        from edge.decoders.ssd import find_postprocess_head

        if options is not None and kwargs:
            raise TypeError("give LoadOptions or keyword options, not both")
        o = options or LoadOptions(**kwargs)
        if labels is not None:
            o = replace(o, labels=labels)
        path = Path(model_path)
        graph = read_tflite(path)
        md = read_metadata(graph)
        extra: tuple[int, ...] = ()
        if o.decoder == "ssd" and md is None:  # decode the raw head under a fused op
            head = find_postprocess_head(graph)
            extra = (head.boxes_tensor, head.scores_tensor) if head else ()
        backend = TfliteBackend(path, threads=o.threads, delegate=o.delegate, extra_outputs=extra)
        det = cls.from_backend(backend, md, o)
        log.info("model %s: decoder %s (%s), input %dx%d %s, resize %s", path.name,
                 det.decoder.name, det.decoder_how, *det.input_wh, det.layout.dtype,
                 det.settings.resize)
        return det

    @property
    def input_wh(self) -> tuple[int, int]:
        return self.backend.signature.input_wh

    def preprocess(self, image_bgr: np.ndarray) -> tuple[np.ndarray, FrameTransform]:
        """(H, W, 3) uint8 BGR frame -> (model tensor (h, w, C) in the input's dtype,
        transform back to the frame). Safe to call from another thread (capture)."""
        return model_input(image_bgr, self.layout)

    def postprocess(self, outputs: list[np.ndarray], tf: FrameTransform,
                    timings: dict[str, float] | None = None) -> Detections:
        """One image's float outputs (batch axis of 1 kept) -> Detections normalized to the
        camera frame, labelled, by score. Adds "decode" and "nms" ms to ``timings``."""
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

    def detect_with_timings(
        self, image_bgr: np.ndarray,
        prepared: tuple[np.ndarray, FrameTransform] | None = None,
        preprocess_ms: float = 0.0,
    ) -> tuple[Detections, dict[str, float]]:
        """Detections for one frame and the ms each stage took ("preprocess", "invoke",
        "decode", "nms"). ``prepared``: ``preprocess(image_bgr)`` already made elsewhere
        (the capture thread), which took ``preprocess_ms``."""
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        if prepared is None:
            prepared = self.preprocess(image_bgr)
            preprocess_ms = (time.perf_counter() - t0) * 1e3
        tensor, tf = prepared
        t1 = time.perf_counter()
        outputs = self.backend.invoke(tensor[None])
        t2 = time.perf_counter()
        timings["preprocess"] = preprocess_ms
        timings["invoke"] = (t2 - t1) * 1e3
        return self.postprocess(outputs, tf, timings), timings

    def detect(self, image_bgr: np.ndarray) -> Detections:
        """Detections for one BGR image, boxes normalized to that image, by score."""
        return self.detect_with_timings(image_bgr)[0]

    def detect_batch(self, images_bgr: list[np.ndarray]) -> list[Detections]:
        """``detect`` for several images; one invoke per batch when the backend takes
        batches (``signature.max_batch``), else one per image."""
        limit = self.backend.signature.max_batch
        if limit == 1 or len(images_bgr) <= 1:
            return [self.detect(im) for im in images_bgr]
        step = limit or len(images_bgr)
        result: list[Detections] = []
        for start in range(0, len(images_bgr), step):
            pre = [self.preprocess(im) for im in images_bgr[start:start + step]]
            outs = self.backend.invoke(np.stack([p[0] for p in pre]))
            result.extend(self.postprocess([o[i:i + 1] for o in outs], tf) for i, (_, tf) in enumerate(pre))
        return result

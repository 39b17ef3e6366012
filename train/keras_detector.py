"""Run a trained Keras model like the device runs a .tflite: letterbox (edge.core), invoke,
decode with the device decoders (``edge.decoders``), NMS (``edge.core.nms``), map boxes
back to the frame. Used for validation mAP during training and ``edge eval`` on Keras models.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import keras
import numpy as np

from edge.core.boxes import Detections
from edge.core.letterbox import FrameTransform, resize_for_model
from edge.core.metadata import ModelMetadata, SsdDecoderSpec, YoloDecoderSpec, sidecar_path
from edge.core.nms import nms
from edge.decoders.ssd import anchors_for, decode_ssd
from edge.decoders.yolo import decode_yolo_grid
from edge.detector import to_frame


class KerasDetector:
    """A Keras detector plus its model contract.

    ``detect(image_bgr)`` -> Detections normalized to the image, after NMS, by score.
    """

    def __init__(self, model: keras.Model, metadata: ModelMetadata, score: float | None = None,
                 iou: float | None = None, max_detections: int | None = None) -> None:
        self.model = model
        self.metadata = metadata
        self.labels = list(metadata.labels)
        self.input_wh = tuple(metadata.input.size_wh)
        self.score = metadata.thresholds.score if score is None else score
        self.iou = metadata.thresholds.iou if iou is None else iou
        self.max_detections = metadata.thresholds.max_detections if max_detections is None else max_detections
        dec = metadata.decoder
        if not isinstance(dec, (SsdDecoderSpec, YoloDecoderSpec)):
            raise ValueError(f"Keras models carry an 'ssd' or 'yolo' decoder; metadata has {dec.type!r}")
        self._anchors = anchors_for(dec) if isinstance(dec, SsdDecoderSpec) else None

    @classmethod
    def load(cls, path: str | Path, **kwargs) -> KerasDetector:
        """Load ``model.keras`` (or a run directory holding it) and its ``.edge.json`` sidecar."""
        p = Path(path)
        if p.is_dir():
            p = p / "model.keras"
        if not p.is_file():
            raise FileNotFoundError(f"Keras model {p} not found")
        meta = sidecar_path(p)
        if not meta.is_file():
            raise FileNotFoundError(f"{p}: model contract {meta} is missing "
                                    "(training writes it next to the model)")
        md = ModelMetadata.from_json(meta.read_text())
        return cls(keras.saving.load_model(p, compile=False), md, **kwargs)

    def preprocess(self, image_bgr: np.ndarray) -> tuple[np.ndarray, FrameTransform]:
        """BGR frame -> (S, S, 3) float32 input per the contract, and the frame transform."""
        inp = self.metadata.input
        img, tf_ = resize_for_model(image_bgr, self.input_wh, inp.resize, inp.pad_value, inp.interpolation)
        if inp.channel_order == "RGB":
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        mean = np.asarray(inp.normalization.mean, np.float32)
        std = np.asarray(inp.normalization.std, np.float32)
        return (img.astype(np.float32) - mean) / std, tf_

    def decode(self, outputs: list[np.ndarray]) -> Detections:
        """One image's outputs (no batch axis) -> Detections in the model-input frame, after NMS."""
        dec = self.metadata.decoder
        if isinstance(dec, SsdDecoderSpec):
            dets = decode_ssd(outputs[0], outputs[1], self._anchors, dec, self.score)
        else:
            dets = decode_yolo_grid([o[None] for o in outputs], dec, len(self.labels), self.input_wh,
                                    self.score)
        return nms(dets, self.iou, True, self.max_detections)

    def detect_batch(self, images_bgr: list[np.ndarray]) -> list[Detections]:
        pre = [self.preprocess(im) for im in images_bgr]
        outs = self.model(np.stack([p[0] for p in pre]), training=False)
        outs = [np.asarray(o) for o in (outs if isinstance(outs, (list, tuple)) else [outs])]
        result = []
        for i, (_, tf_) in enumerate(pre):
            result.append(to_frame(self.decode([o[i] for o in outs]), tf_, tuple(self.labels)))
        return result

    def detect(self, image_bgr: np.ndarray) -> Detections:
        return self.detect_batch([image_bgr])[0]

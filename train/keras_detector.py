"""Run a trained Keras model exactly as the device runs a .tflite: the shared
``edge.detector.Detector`` over a ``KerasBackend``. Used for validation mAP during
training, conversion parity and ``edge eval`` on Keras models.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from edge.core.boxes import Detections
from edge.core.letterbox import FrameTransform
from edge.core.metadata import ModelMetadata, SsdDecoderSpec, YoloDecoderSpec, sidecar_path
from edge.detector import Detector, LoadOptions
from train.keras_backend import KerasBackend


class KerasDetector:
    """A Keras detector plus its model contract; a thin front of ``Detector``.

    ``detect(image_bgr)`` -> Detections normalized to the image, after NMS, by score.
    """

    def __init__(self, model: keras.Model, metadata: ModelMetadata, score: float | None = None,
                 iou: float | None = None, max_detections: int | None = None) -> None:
        dec = metadata.decoder
        if not isinstance(dec, (SsdDecoderSpec, YoloDecoderSpec)):
            raise ValueError(f"Keras models carry an 'ssd' or 'yolo' decoder; metadata has {dec.type!r}")
        self.model = model
        self.metadata = metadata
        self.detector = Detector.from_backend(
            KerasBackend(model, metadata.name or "keras model"), metadata,
            LoadOptions(score=score, iou=iou, max_detections=max_detections))
        self.labels = list(metadata.labels)
        self.input_wh = self.detector.input_wh
        self.score = self.detector.settings.score
        self.iou = self.detector.settings.iou
        self.max_detections = self.detector.settings.max_detections

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
        """BGR frame -> (S, S, C) float32 model input per the contract, and the frame transform."""
        return self.detector.preprocess(image_bgr)

    def detect_batch(self, images_bgr: list[np.ndarray]) -> list[Detections]:
        """One model call for the whole list."""
        return self.detector.detect_batch(images_bgr)

    def detect(self, image_bgr: np.ndarray) -> Detections:
        return self.detector.detect(image_bgr)

"""The model-contract record training writes next to ``model.keras`` (docs/contracts.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.core.anchors import SsdAnchorSpec
from edge.core.metadata import (
    InputSpec,
    ModelMetadata,
    SsdDecoderSpec,
    Thresholds,
    YoloDecoderSpec,
    sidecar_path,
)

# device defaults; evaluation overrides the score threshold to see the whole PR curve
DEFAULT_THRESHOLDS = Thresholds(score=0.4, iou=0.5, max_detections=100)


def ssd_metadata(labels: list[str], input_size: int, spec: SsdAnchorSpec, name: str = "",
                 provenance: dict | None = None) -> ModelMetadata:
    return ModelMetadata(
        name=name, labels=list(labels), input=InputSpec(size_wh=(input_size, input_size)),
        decoder=SsdDecoderSpec(anchor_generator=spec.to_dict(), score_activation="none",
                               background_class=True, boxes_output="boxes", scores_output="scores"),
        thresholds=DEFAULT_THRESHOLDS, provenance=provenance or {})


def yolo_metadata(labels: list[str], input_size: int, strides: list[int], anchors_wh: list[np.ndarray],
                  name: str = "", provenance: dict | None = None) -> ModelMetadata:
    return ModelMetadata(
        name=name, labels=list(labels), input=InputSpec(size_wh=(input_size, input_size)),
        decoder=YoloDecoderSpec(layout="grid", strides=list(strides), apply_sigmoid=False,
                                anchors_wh=[[(float(w), float(h)) for w, h in a] for a in anchors_wh]),
        thresholds=DEFAULT_THRESHOLDS, provenance=provenance or {})


def write_metadata(md: ModelMetadata, model_path: Path) -> Path:
    p = sidecar_path(model_path)
    p.write_text(md.model_dump_json(indent=2, exclude_none=True))
    return p

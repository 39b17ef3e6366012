"""The model contract: what the device must know to run a model, stored inside it.

``edge convert`` writes one JSON record into the ``.tflite`` flatbuffer's ``metadata``
list under ``METADATA_NAME``; the device reads it back with ``read_metadata``. A model
without the record (a "foreign" model) still runs: the decoders recognise common output
signatures (see ``edge.decoders.auto``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from edge.core.tflite_file import TfliteFile, read_tflite

METADATA_NAME = "edge.model_contract"
SCHEMA_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Normalization(_Strict):
    """Float models: input = (pixel - mean) / std, per channel, in the model's channel order.

    Quantized inputs ignore this: the interpreter's input quantization covers it.
    """

    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (255.0, 255.0, 255.0)


class InputSpec(_Strict):
    size_wh: tuple[int, int] = Field(description="model input width, height in pixels")
    dtype: Literal["uint8", "int8", "float32", "float16"] = "float32"
    quant_scale: float | None = None
    quant_zero_point: int | None = None
    resize: Literal["letterbox", "stretch"] = "letterbox"
    pad_value: int = Field(114, ge=0, le=255)
    interpolation: Literal["bilinear", "area", "antialias"] = Field(
        "bilinear", description="resize filter; see edge.core.letterbox.INTERPOLATIONS")
    channel_order: Literal["RGB", "BGR"] = "RGB"
    normalization: Normalization = Normalization()


class SsdDecoderSpec(_Strict):
    """Raw SSD heads: box encodings [1, A, 4] (ty, tx, th, tw) + class scores [1, A, C(+1)]."""

    type: Literal["ssd"] = "ssd"
    anchors_cxcywh: list[tuple[float, float, float, float]] | None = Field(
        None, description="explicit anchors; else generated from anchor_generator")
    anchor_generator: dict | None = Field(None, description="SsdAnchorSpec.to_dict()")
    box_scales_yxhw: tuple[float, float, float, float] = (10.0, 10.0, 5.0, 5.0)
    score_activation: Literal["sigmoid", "softmax", "none"] = "sigmoid"
    background_class: bool = Field(True, description="column 0 of the scores is background")
    boxes_output: str | None = Field(None, description="output tensor name of encodings")
    scores_output: str | None = Field(None, description="output tensor name of scores")


class YoloDecoderSpec(_Strict):
    """YOLO outputs.

    layout ``yolov5``: [1, N, 5+C] rows cx, cy, w, h, obj, classes (already decoded).
    layout ``yolov8``: [1, 4+C, N] (anchor-free, no objectness).
    layout ``grid``: one raw output per stride [1, H, W, A*(5+C)] decoded with ``anchors_wh``.
    layout ``ltrb``: our anchor-free nano YOLO, one output [1, N, 4+C] of sigmoids: distances
    to the box edges over ``ltrb_range * stride`` and class scores (``edge.core.yolo_ltrb``).
    """

    type: Literal["yolo"] = "yolo"
    layout: Literal["yolov5", "yolov8", "grid", "ltrb"] = "yolov5"
    strides: list[int] = Field(default_factory=list)
    anchors_wh: list[list[tuple[float, float]]] | None = Field(
        None, description="per stride, anchor sizes in input pixels (grid layout)")
    boxes_normalized: bool | None = Field(None, description="None: infer from value range")
    apply_sigmoid: bool = Field(True, description="grid layout: raw logits need sigmoid")
    ltrb_range: float | None = Field(None, gt=0, description="ltrb layout: largest edge "
                                     "distance, in strides, that an output of 1.0 means")


class PostprocessDecoderSpec(_Strict):
    """Fused ``TFLite_Detection_PostProcess``: boxes (yxyx), classes, scores, count."""

    type: Literal["postprocess"] = "postprocess"
    output_order: tuple[str, str, str, str] | None = Field(
        None, description="names of the four outputs as (boxes, classes, scores, count); "
        "None: identify by shape and value range")
    class_offset: int = Field(0, description="added to the op's class ids before label lookup")


class EndToEndDecoderSpec(_Strict):
    """[1, K, 6] rows x1, y1, x2, y2, score, class (NMS inside the model)."""

    type: Literal["end2end"] = "end2end"
    boxes_normalized: bool | None = None


DecoderSpec = Annotated[
    SsdDecoderSpec | YoloDecoderSpec | PostprocessDecoderSpec | EndToEndDecoderSpec,
    Field(discriminator="type"),
]


class Thresholds(_Strict):
    score: float = Field(0.5, ge=0.0, le=1.0)
    iou: float = Field(0.5, ge=0.0, le=1.0)
    max_detections: int = Field(100, ge=1)


class ModelMetadata(_Strict):
    schema_version: int = SCHEMA_VERSION
    name: str = ""
    labels: list[str]
    input: InputSpec
    decoder: DecoderSpec
    thresholds: Thresholds = Thresholds()
    provenance: dict = Field(default_factory=dict,
                             description="dataset, training run, quantization, validation mAP")

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, v: int) -> int:
        if v > SCHEMA_VERSION:
            raise ValueError(f"model contract version {v} is newer than this edge "
                             f"({SCHEMA_VERSION}); upgrade edge")
        return v

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelMetadata:
        return cls.model_validate(json.loads(text))


def read_metadata(model: str | Path | TfliteFile) -> ModelMetadata | None:
    """Our record from a ``.tflite`` file, or None when the model has none (foreign)."""
    f = model if isinstance(model, TfliteFile) else read_tflite(model)
    raw = f.metadata.get(METADATA_NAME)
    if raw is None:
        return None
    try:
        return ModelMetadata.from_json(raw)
    except ValueError as e:
        raise ValueError(f"{f.path}: metadata record '{METADATA_NAME}' is invalid: {e}") from e


def sidecar_path(model_path: str | Path) -> Path:
    """Where training writes the record next to a Keras model (``model.keras`` -> ``model.edge.json``)."""
    p = Path(model_path)
    return p.with_name(p.stem + ".edge.json") if p.suffix else p / "model.edge.json"

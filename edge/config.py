"""The device YAML (``edge run --config``, ``firmware_configs/*.yaml``), validated once.

Alert-related sections (mqtt, rules, gpio, snapshots, event_log, webhooks,
home_assistant) come from ``edge.alerts.config.AlertsConfig``; this adds what the
detector, camera and pipeline need. Relative paths resolve against the config's folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from edge.alerts.config import AlertsConfig
from edge.yamlconf import load_yaml_model


class CameraConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size_wh: tuple[int, int] | None = Field(None, description="requested capture size (camera/picamera2)")
    fps: float | None = Field(None, gt=0, description="requested capture rate")


class OutputConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    jsonl: str | None = Field(None, description="per-frame detections as JSON lines ('-' = stdout)")
    save: Path | None = Field(None, description="annotated video (.mp4/.avi) or image folder")


class EdgeConfig(AlertsConfig):
    model_config = ConfigDict(extra="forbid")

    device: str = Field("edge", pattern=r"^[A-Za-z0-9_-]+$",
                        description="device name; used in MQTT topics (edge/<device>/...)")
    model: Path = Field(description=".tflite model (ours, or a foreign detector)")
    labels: Path | None = Field(None, description="labels file; default: the model's metadata")
    source: int | str = Field(0, description="camera index, /dev/videoN, picamera2, URL, file or folder")
    camera: CameraConfig = CameraConfig()
    threads: int | None = Field(None, ge=1, le=64, description="interpreter CPU threads")
    delegate: Literal["cpu", "edgetpu"] = "cpu"
    decoder: Literal["postprocess", "ssd", "yolov5", "yolov8", "end2end", "yolo-grid"] | None = None
    score: float | None = Field(None, ge=0, le=1, description="minimum detection score")
    iou: float | None = Field(None, ge=0, le=1, description="NMS IoU threshold")
    max_detections: int | None = Field(None, ge=1)
    latency_budget_ms: float | None = Field(None, gt=0, description="capture-to-alert bound")
    stats_interval_s: float = Field(10.0, gt=0)
    output: OutputConfig = OutputConfig()

    @field_validator("model", "labels")
    @classmethod
    def _resolve(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        base = (info.context or {}).get("config_dir")
        if v is not None and base is not None and not v.is_absolute():
            v = Path(base) / v
        return v


def load_config(path: str | Path) -> EdgeConfig:
    """Parse and validate; ConfigError lists file:line: field: problem for every error."""
    return load_yaml_model(path, EdgeConfig)

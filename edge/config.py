"""The device YAML (``edge run --config``, ``firmware_configs/*.yaml``), validated once.

``EdgeConfig`` holds what the detector, camera and pipeline need, plus one section per
component: ``camera``, ``output``, ``health``, ``metrics``, ``fleet`` and ``alerts``
(``edge.alerts.config.AlertsConfig``).
The alert sections (mqtt, rules, gpio, snapshots, event_log, webhooks, home_assistant)
are written at the top level of the YAML, as they always were; validation gathers them
into ``cfg.alerts`` so ``build_alerts(cfg.alerts, cfg.device)`` sees them and nothing else.
Relative paths resolve against the config's folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from edge.alerts.config import AlertsConfig
from edge.decoders.names import DECODER_NAMES
from edge.fleet.config import FleetConfig
from edge.health.config import HealthConfig, MetricsConfig
from edge.yamlconf import StrictModel, load_yaml_model, resolve_path

ALERT_KEYS = tuple(AlertsConfig.model_fields)  # top-level YAML keys that belong to `alerts`


class CameraConfig(StrictModel):
    size_wh: tuple[int, int] | None = Field(None, description="requested capture size (camera/picamera2)")
    fps: float | None = Field(None, gt=0, description="requested capture rate")


class OutputConfig(StrictModel):
    jsonl: str | None = Field(None, description="per-frame detections as JSON lines ('-' = stdout)")
    save: Path | None = Field(None, description="annotated video (.mp4/.avi) or image folder")


class EdgeConfig(StrictModel):
    yaml_inline: ClassVar[tuple[str, ...]] = ("alerts",)

    device: str = Field("edge", pattern=r"^[A-Za-z0-9_-]+$",
                        description="device name; used in MQTT topics (edge/<device>/...)")
    model: Path = Field(description=".tflite model (ours, or a foreign detector)")
    labels: Path | None = Field(None, description="labels file; default: the model's metadata")
    source: int | str = Field(0, description="camera index, /dev/videoN, picamera2, URL, file or folder")
    camera: CameraConfig = CameraConfig()
    threads: int | None = Field(None, ge=1, le=64, description="interpreter CPU threads")
    delegate: Literal["cpu", "edgetpu"] = "cpu"
    decoder: Literal[DECODER_NAMES] | None = None  # type: ignore[valid-type]
    score: float | None = Field(None, ge=0, le=1, description="minimum detection score")
    iou: float | None = Field(None, ge=0, le=1, description="NMS IoU threshold")
    max_detections: int | None = Field(None, ge=1)
    latency_budget_ms: float | None = Field(None, gt=0, description="capture-to-alert bound")
    stats_interval_s: float = Field(10.0, gt=0)
    output: OutputConfig = OutputConfig()
    health: HealthConfig = HealthConfig()
    metrics: MetricsConfig = MetricsConfig()
    fleet: FleetConfig = FleetConfig()
    alerts: AlertsConfig = Field(AlertsConfig(), description="rules and sinks; their keys "
                                 "(mqtt, rules, gpio, ...) are written at the top level")

    @model_validator(mode="before")
    @classmethod
    def _gather_alerts(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data  # pydantic reports the wrong type
        if "alerts" in data:
            # not a YAML key: accepting it would give two spellings of one setting
            raise ValueError("unknown key 'alerts': write the alert sections "
                             f"({', '.join(ALERT_KEYS)}) at the top level")
        rest = {k: v for k, v in data.items() if k not in ALERT_KEYS}
        return {**rest, "alerts": {k: v for k, v in data.items() if k in ALERT_KEYS}}

    @field_validator("model", "labels")
    @classmethod
    def _relative_to_file(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        return resolve_path(v, info)

    @field_validator("source")
    @classmethod
    def _source_relative_to_file(cls, v: int | str, info: ValidationInfo) -> int | str:
        """A relative file or folder follows the config too; camera indexes, picamera2 and
        URLs are not paths and stay as written."""
        if isinstance(v, int) or v.strip().isdigit() or v.startswith("picamera2") or "://" in v:
            return v
        return str(resolve_path(Path(v), info))


def load_config(path: str | Path) -> EdgeConfig:
    """Parse and validate; ConfigError lists file:line: field: problem for every error."""
    return load_yaml_model(path, EdgeConfig)

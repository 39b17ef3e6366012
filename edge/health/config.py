"""The ``health:`` and ``metrics:`` sections of the device YAML (docs/health.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator, model_validator

from edge.yamlconf import StrictModel, resolve_path

THERMAL_PATH = Path("/sys/class/thermal/thermal_zone0/temp")


class HealthConfig(StrictModel):
    enabled: bool = Field(True, description="evaluate health states: logged on each change, "
                          "retained JSON on <prefix>/<device>/health and Home Assistant "
                          "binary_sensors when the mqtt section is set")
    camera_stall_s: float = Field(10.0, gt=0, description="no frame captured this long (or "
                                  "the camera is being reconnected): camera_stalled")
    detector_stall_s: float = Field(10.0, gt=0, description="frames wait but none came out "
                                    "of the model this long: detector_stalled")
    min_fps: float | None = Field(None, gt=0, description="FPS over the last fps_window_s "
                                  "below this: fps_low (None: not checked)")
    fps_window_s: float = Field(30.0, gt=0, description="window for the FPS of fps_low and "
                                "the edge_fps metric")
    queue_full_ratio: float = Field(0.8, gt=0, le=1, description="MQTT on-disk queue above "
                                    "this fraction of mqtt.queue_max (or queue_max_mb): "
                                    "queue_full")
    disk_min_free_mb: float = Field(100.0, ge=0, description="free space on the MQTT queue's "
                                    "disk below this: queue_full (0: not checked)")
    temp_max_c: float = Field(80.0, gt=0, description="SoC temperature at or above this: "
                              "throttled")
    temp_hysteresis_c: float = Field(3.0, ge=0, description="throttled by temperature "
                                     "clears below temp_max_c minus this")
    thermal_path: Path | None = Field(THERMAL_PATH, description="file with the SoC "
                                      "temperature in millidegrees C (None: not read)")
    vcgencmd: str | None = Field("vcgencmd", description="Raspberry Pi firmware tool for "
                                 "`get_throttled` (a name on PATH or a path; None: not run)")
    check_interval_s: float = Field(2.0, gt=0, description="how often the states are evaluated")
    webhooks: list[str] = Field([], description="names under `webhooks:` that also get the "
                                "health JSON (POST) on every transition")
    gpio: list[str] = Field([], description="names under `gpio:` driven by health problems "
                            "(hold: on while any state is on; pulse: at each state turning on)")

    @field_validator("thermal_path")
    @classmethod
    def _relative_to_file(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        return resolve_path(v, info)

    @model_validator(mode="after")
    def _interval_fits(self) -> HealthConfig:
        shortest = min(self.camera_stall_s, self.detector_stall_s)
        if self.enabled and self.check_interval_s > shortest:
            raise ValueError(f"check_interval_s ({self.check_interval_s}) must not exceed "
                             f"camera_stall_s / detector_stall_s ({shortest}): a stall would "
                             "be reported late")
        return self


class MetricsConfig(StrictModel):
    enabled: bool = Field(False, description="serve Prometheus metrics on /metrics (needs "
                          "the metrics extra: pip install 'edge-detect[metrics]')")
    address: str = Field("127.0.0.1", description="listen address (loopback by default; "
                         "0.0.0.0 exposes it to the network)")
    port: int = Field(9108, ge=0, le=65535, description="TCP port (0: any free port, "
                      "for tests)")

"""The ``health:`` and ``metrics:`` sections of the device YAML."""

from __future__ import annotations

from pydantic import Field

from edge.yamlconf import StrictModel


class HealthConfig(StrictModel):
    enabled: bool = Field(True, description="publish health states (needs the mqtt section "
                          "for MQTT/Home Assistant)")
    camera_stall_s: float = Field(10.0, gt=0, description="no frame captured this long: "
                                  "camera_stalled")
    detector_stall_s: float = Field(10.0, gt=0, description="no frame through the model this "
                                    "long: detector_stalled")
    min_fps: float | None = Field(None, gt=0, description="FPS below this: fps_low")
    check_interval_s: float = Field(2.0, gt=0, description="how often the states are evaluated")


class MetricsConfig(StrictModel):
    enabled: bool = Field(False, description="serve Prometheus metrics on /metrics")
    address: str = Field("127.0.0.1", description="listen address (loopback by default)")
    port: int = Field(9108, ge=1, le=65535)

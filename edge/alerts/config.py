"""Alert configuration: rules and the sinks they feed, validated once at load time.

``AlertsConfig`` holds the alert sections of the device YAML; ``edge.config.EdgeConfig``
carries it as its ``alerts`` section (written at the top level of the YAML), so
``build_alerts`` receives these sections and nothing else, and each sink only its own.
Paths may be relative: they resolve against the config file's folder (pydantic validation
context ``{"config_dir": ...}``, which ``edge.yamlconf`` supplies).

Sink names (what ``rules[].outputs`` refers to) come from the table in
``edge.alerts.sinks.kinds``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from edge.alerts.events import Phase
from edge.alerts.sinks.kinds import FIXED_SINKS, SINK_SECTIONS, SinkKind, configured_sinks_of
from edge.yamlconf import StrictModel, resolve_path

# BCM numbering on the 40-pin header of every Raspberry Pi since the B+
BCM_PINS = range(0, 28)
_NAME = r"^[A-Za-z0-9_-]+$"


class TlsConfig(StrictModel):
    ca_certs: Path | None = Field(None, description="CA bundle (PEM) that signed the broker's "
                                  "certificate; default: the system trust store")
    certfile: Path | None = Field(None, description="client certificate (PEM) for mutual TLS")
    keyfile: Path | None = Field(None, description="client private key (PEM) for mutual TLS")
    insecure: bool = Field(False, description="skip the broker host-name check (test rigs only)")

    @field_validator("ca_certs", "certfile", "keyfile")
    @classmethod
    def _exists(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        v = resolve_path(v, info)
        if v is not None and not v.is_file():
            raise ValueError(f"file not found: {v}")
        return v

    @model_validator(mode="after")
    def _pair(self) -> TlsConfig:
        if (self.certfile is None) != (self.keyfile is None):
            raise ValueError("tls.certfile and tls.keyfile go together (mutual TLS needs both)")
        return self


class MqttConfig(StrictModel):
    host: str = Field(description="broker host name or IP")
    port: int = Field(1883, ge=1, le=65535, description="broker port (8883 is usual for TLS)")
    client_id: str | None = Field(None, description="MQTT client id; default edge-<device>")
    username: str | None = Field(None, description="default: $EDGE_MQTT_USERNAME if set")
    password: SecretStr | None = Field(None, description="default: $EDGE_MQTT_PASSWORD if set")
    tls: TlsConfig | None = Field(None, description="enable TLS (with optional client cert)")
    qos: Literal[0, 1, 2] = Field(1, description="QoS of event and snapshot messages")
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keepalive; the broker sends "
                             "the last will after ~1.5x this without traffic")
    topic_prefix: str = Field("edge", description="topics are <prefix>/<device>/...")
    publish_snapshots: bool = Field(True, description="JPEG on <prefix>/<device>/snapshot/<label> "
                                    "at event start (retained, like Frigate)")
    snapshot_crop: bool = Field(False, description="publish the crop around the box instead of "
                                "the whole frame")
    queue_path: Path | None = Field(None, description="SQLite file holding messages until the "
                                    "broker acknowledges them; default "
                                    "~/.local/state/edge/<device>-mqtt.db")
    queue_max: int = Field(10000, ge=1, description="messages kept while the broker is "
                           "unreachable; beyond it the oldest are dropped (counted, logged)")
    queue_max_mb: float = Field(64.0, gt=0, description="size bound of the queued payloads")
    reconnect_min_s: float = Field(1.0, gt=0, le=600, description="first reconnect delay")
    reconnect_max_s: float = Field(60.0, gt=0, le=3600, description="backoff doubles up to this")

    @field_validator("topic_prefix")
    @classmethod
    def _topic(cls, v: str) -> str:
        if not v or "+" in v or "#" in v or v.startswith("/") or v.endswith("/"):
            raise ValueError(f"must be a plain topic path without wildcards or edge slashes, got {v!r}")
        return v

    @field_validator("queue_path")
    @classmethod
    def _queue(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        return resolve_path(v, info)

    @model_validator(mode="after")
    def _backoff(self) -> MqttConfig:
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError(f"reconnect_min_s ({self.reconnect_min_s}) must not exceed "
                             f"reconnect_max_s ({self.reconnect_max_s})")
        return self


class GpioButtonConfig(StrictModel):
    pin: int = Field(description="BCM GPIO number of the acknowledge button")
    pull_up: bool = Field(True, description="button wired to ground (internal pull-up)")
    silence_s: float = Field(0.0, ge=0, description="after a press, ignore new events this long")

    @field_validator("pin")
    @classmethod
    def _pin(cls, v: int) -> int:
        return _check_pin(v)


class GpioOutputConfig(StrictModel):
    pin: int = Field(description="BCM GPIO number (0-27) driving the LED, buzzer or relay")
    active_high: bool = Field(True, description="false for active-low relay boards")
    mode: Literal["pulse", "hold"] = Field("pulse", description="pulse: on for `seconds` at each "
                                           "event start; hold: on while any event is active")
    seconds: float | None = Field(None, gt=0, le=600, description="pulse length (mode pulse; "
                                  "default 2)")
    button: GpioButtonConfig | None = Field(None, description="optional acknowledge button: a "
                                            "press switches the output off")

    @field_validator("pin")
    @classmethod
    def _pin(cls, v: int) -> int:
        return _check_pin(v)

    @model_validator(mode="after")
    def _mode(self) -> GpioOutputConfig:
        if self.mode == "hold" and self.seconds is not None:
            raise ValueError("seconds applies to mode: pulse only (hold follows the event)")
        if self.mode == "pulse" and self.seconds is None:
            self.seconds = 2.0
        if self.button is not None and self.button.pin == self.pin:
            raise ValueError(f"button.pin {self.pin} is the output pin")
        return self


def _check_pin(v: int) -> int:
    if v not in BCM_PINS:
        raise ValueError(f"must be a BCM GPIO number {BCM_PINS.start}-{BCM_PINS.stop - 1}, got {v}")
    return v


class SnapshotConfig(StrictModel):
    dir: Path = Field(description="folder for snapshot JPEGs (created if missing)")
    keep: int = Field(500, ge=1, description="newest snapshot files kept; older ones deleted")
    full: bool = Field(True, description="save the whole frame with the box drawn")
    crop: bool = Field(True, description="save a crop around the box")
    crop_margin: float = Field(0.15, ge=0, le=2, description="crop padding, fraction of box size")
    quality: int = Field(85, ge=1, le=100, description="JPEG quality")
    phases: list[Phase] = Field(["start"], min_length=1, description="event phases that save")

    @field_validator("dir")
    @classmethod
    def _dir(cls, v: Path, info: ValidationInfo) -> Path:
        return resolve_path(v, info)

    @model_validator(mode="after")
    def _something(self) -> SnapshotConfig:
        if not (self.full or self.crop):
            raise ValueError("snapshots: full and crop are both false; nothing would be saved")
        return self


class EventLogConfig(StrictModel):
    path: Path = Field(description="JSON-lines file, one line per event message")
    max_mb: float = Field(10.0, gt=0, description="rotate when the file exceeds this size")
    backups: int = Field(5, ge=0, le=100, description="rotated files kept (path.1 ... path.N)")

    @field_validator("path")
    @classmethod
    def _path(cls, v: Path, info: ValidationInfo) -> Path:
        return resolve_path(v, info)


class WebhookConfig(StrictModel):
    url: str = Field(description="http(s) URL that receives each event as a JSON POST")
    headers: dict[str, str] = Field({}, description="extra request headers (e.g. Authorization)")
    timeout_s: float = Field(5.0, gt=0, le=120)
    retries: int = Field(3, ge=0, le=20, description="attempts after the first failure")
    backoff_s: float = Field(1.0, ge=0, le=300, description="first retry delay; doubles")
    phases: list[Phase] = Field(["start", "update", "end"], min_length=1)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError(f"must be an http:// or https:// URL, got {v!r}")
        return v


class HomeAssistantConfig(StrictModel):
    discovery: bool = Field(True, description="publish MQTT discovery (one binary_sensor per rule)")
    discovery_prefix: str = Field("homeassistant", description="Home Assistant's discovery prefix")


class RuleConfig(StrictModel):
    name: str = Field(pattern=_NAME, description="unique rule name (used in topics and entity ids)")
    labels: list[str] = Field(min_length=1, description="labels that trigger this rule")
    min_score: float = Field(0.5, ge=0, le=1, description="minimum detection score")
    zone: list[tuple[float, float]] | None = Field(
        None, description="polygon [[x, y], ...] in normalized frame coordinates; default: "
        "whole frame")
    zone_anchor: Literal["bottom_center", "center"] = Field(
        "bottom_center", description="point of the box that must lie in the zone (feet, "
        "not head: bottom_center)")
    min_frames: int = Field(3, ge=1, le=1000, description="consecutive frames before an event starts")
    end_after_frames: int = Field(15, ge=1, le=10000, description="frames of absence that end it")
    cooldown_s: float = Field(30.0, ge=0, description="after an event ends, no new event of this "
                              "rule starts for this long")
    max_event_s: float | None = Field(600.0, gt=0, description="end an event after this long "
                                      "(the same object then raises no new event)")
    update_interval_s: float = Field(5.0, ge=0, description="at most one update message per "
                                     "event this often (only when score or box changed)")
    track_iou: float = Field(0.3, gt=0, le=1, description="IoU that links a box to a track")
    outputs: list[str] | None = Field(None, description="sink names; default: every configured sink")

    @field_validator("zone")
    @classmethod
    def _zone(cls, v: list[tuple[float, float]] | None) -> list[tuple[float, float]] | None:
        if v is None:
            return v
        if len(v) < 3:
            raise ValueError(f"a zone polygon needs at least 3 points, got {len(v)}")
        for i, (x, y) in enumerate(v):
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise ValueError(f"point {i} ({x}, {y}) is outside [0, 1]; zones are in "
                                 "normalized frame coordinates, not pixels")
        return v


class AlertsConfig(StrictModel):
    """The alert sections of the device config. Field order matters: ``rules`` is last so its
    validator can check ``outputs`` against the sinks validated before it."""

    mqtt: MqttConfig | None = Field(None, description="MQTT broker for events, stats, snapshots")
    gpio: dict[str, GpioOutputConfig] = Field({}, description="name -> GPIO output (buzzer, LED, relay)")
    snapshots: SnapshotConfig | None = Field(None, description="snapshot JPEGs on disk")
    event_log: EventLogConfig | None = Field(None, description="JSON-lines event log with rotation")
    webhooks: dict[str, WebhookConfig] = Field({}, description="name -> HTTP POST endpoint")
    home_assistant: HomeAssistantConfig | None = Field(None, description="Home Assistant MQTT discovery")
    rules: list[RuleConfig] = Field([], description="what raises an event, and where it goes")

    @field_validator("gpio", "webhooks")
    @classmethod
    def _names(cls, v: dict, info: ValidationInfo) -> dict:
        for name in v:
            if not re.match(_NAME, name):
                raise ValueError(f"sink name {name!r} may only use letters, digits, _ and -")
            if name in FIXED_SINKS:
                raise ValueError(f"sink name {name!r} is reserved for the {FIXED_SINKS[name]} "
                                 "section")
        if info.field_name == "gpio":
            used: dict[int, str] = {}
            for name, out in v.items():
                pins = [(out.pin, name)] + ([(out.button.pin, f"{name}.button")] if out.button else [])
                for pin, who in pins:
                    if pin in used:
                        raise ValueError(f"GPIO {pin} is used by both {used[pin]} and {who}")
                    used[pin] = who
        elif "gpio" in info.data:
            clash = set(v) & set(info.data["gpio"])
            if clash:
                raise ValueError(f"names {sorted(clash)} are used by both gpio and webhooks")
        return v

    @field_validator("rules")
    @classmethod
    def _rules(cls, v: list[RuleConfig], info: ValidationInfo) -> list[RuleConfig]:
        seen: set[str] = set()
        for i, rule in enumerate(v):
            if rule.name in seen:
                raise ValueError(f"rules[{i}]: duplicate rule name {rule.name!r}")
            seen.add(rule.name)
        if not all(s in info.data for s in SINK_SECTIONS):
            return v  # a section failed validation and is reported already; don't pile on
        known = list(configured_sinks_of(info.data))
        for i, rule in enumerate(v):
            for name in rule.outputs or []:
                if name not in known:
                    raise ValueError(
                        f"rules[{i}] ({rule.name}): output {name!r} is not a configured sink; "
                        f"configured: {', '.join(known) or 'none'}")
        return v

    @model_validator(mode="after")
    def _ha(self) -> AlertsConfig:
        if self.home_assistant is not None and self.home_assistant.discovery and self.mqtt is None:
            raise ValueError("home_assistant discovery needs an mqtt section")
        return self

    def configured_sinks(self) -> list[str]:
        """Names that ``rules[].outputs`` may use, in a stable order."""
        return list(self.sink_kinds())

    def sink_kinds(self) -> dict[str, SinkKind]:
        """Configured sink name -> its row in ``edge.alerts.sinks.kinds.SINK_KINDS``."""
        return configured_sinks_of({k: getattr(self, k) for k in SINK_SECTIONS})

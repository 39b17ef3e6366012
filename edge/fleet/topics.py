"""Model delivery over MQTT: the topics, the delivery payload and the state a device reports.

Topics (``<prefix>`` is ``mqtt.topic_prefix``, ``edge`` by default):

- ``<prefix>/<device>/model/set``        a delivery for this device
- ``<prefix>/group/<name>/model/set``    a delivery for every device in group ``<name>``
  (``fleet.groups``); publish it retained so a box that is offline gets it when it is back
- ``<prefix>/<device>/model/state``      retained JSON: what the device runs and what became
  of the last delivery (``ModelState``)

A delivery is ``{"url": "https://.../v2.edgepkg", "sha256": "<64 hex>", "version": "v2"}``.
Home Assistant sees the device's model as an ``update`` entity (installed vs latest version)
and a ``sensor`` with the update status, both read from the state topic.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from edge import __version__

STATUSES = ("idle", "downloading", "installing", "installed", "refused", "rolled_back", "failed")
Status = Literal["idle", "downloading", "installing", "installed", "refused", "rolled_back",
                 "failed"]


@dataclass(frozen=True)
class FleetTopics:
    prefix: str
    device: str

    @property
    def model_set(self) -> str:
        return f"{self.prefix}/{self.device}/model/set"

    @property
    def model_state(self) -> str:
        return f"{self.prefix}/{self.device}/model/state"

    @property
    def availability(self) -> str:
        # the alert sink's availability topic: HA greys the entities out with the box
        return f"{self.prefix}/{self.device}/availability"

    def group_set(self, group: str) -> str:
        return f"{self.prefix}/group/{group}/model/set"


class Delivery(BaseModel):
    """The payload of a ``model/set`` message."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="http(s) URL of the .edgepkg")
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$", description="sha256 of the package file")
    version: str = Field(pattern=r"^[A-Za-z0-9._+-]{1,64}$", description="version it contains")

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not v.lower().startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// URL, got {v[:80]!r}")
        return v

    @field_validator("sha256")
    @classmethod
    def _lower(cls, v: str) -> str:
        return v.lower()


def parse_delivery(payload: bytes) -> Delivery:
    """The Delivery in ``payload``; ValueError with one line naming the field otherwise."""
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"delivery: expected JSON {{url, sha256, version}}, got {payload[:60]!r} "
                         f"({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"delivery: expected a JSON object {{url, sha256, version}}, got "
                         f"{type(data).__name__}")
    try:
        return Delivery.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or "payload"
        raise ValueError(f"delivery: {field}: {err['msg']}") from None


@dataclass
class ModelState:
    """The retained JSON on ``<prefix>/<device>/model/state``.

    version: the version running now (None: the config's model, no store version yet);
    target: the version of the last delivery; status: what became of it; reason: why
    (for refused / rolled_back / failed); map_delta: the on-box mAP@0.5 minus the
    package's figure; fps: measured after the swap; previous: the version replaced."""

    version: str | None
    target: str | None = None
    status: Status = "idle"
    reason: str = ""
    map_delta: float | None = None
    fps: float | None = None
    previous: str | None = None
    ts: float = 0.0

    def to_json(self) -> str:
        d = asdict(self)
        d["ts"] = round(self.ts or time.time(), 3)
        return json.dumps(d, separators=(",", ":"))


def discovery_messages(topics: FleetTopics, discovery_prefix: str) -> list[tuple[str, str]]:
    """(topic, JSON payload) for Home Assistant: an ``update`` entity (installed and latest
    version, both read from the state topic) and a ``sensor`` with the update status.
    Publish retained on every connect."""
    node = f"edge_{topics.device}".replace("-", "_")
    device = {"identifiers": [node], "name": topics.device, "manufacturer": "edge",
              "model": "edge-detect", "sw_version": __version__}
    common = {"state_topic": topics.model_state, "availability_topic": topics.availability,
              "payload_available": "online", "payload_not_available": "offline",
              "json_attributes_topic": topics.model_state, "device": device}
    update = {
        **common, "name": "model", "unique_id": f"{node}_model", "object_id": f"{node}_model",
        # HA's MQTT update platform: installed version from state_topic, latest from
        # latest_version_topic (the same JSON): a box that refused or rolled back the
        # delivered version shows as not up to date
        "value_template": "{{ value_json.version or 'config' }}",
        "latest_version_topic": topics.model_state,
        "latest_version_template": "{{ value_json.target or value_json.version or 'config' }}",
    }
    status = {
        **common, "name": "model update", "unique_id": f"{node}_model_status",
        "object_id": f"{node}_model_status", "value_template": "{{ value_json.status }}",
        "icon": "mdi:package-down",
    }
    return [(f"{discovery_prefix}/update/{node}/model/config", json.dumps(update, separators=(",", ":"))),
            (f"{discovery_prefix}/sensor/{node}/model_status/config",
             json.dumps(status, separators=(",", ":")))]

"""The ``fleet:`` section of the device YAML: where installed model versions live, what an
install must prove before the swap, and where deliveries come from."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator

from edge.yamlconf import StrictModel, resolve_path

_NAME = r"^[A-Za-z0-9_-]+$"


class FleetConfig(StrictModel):
    store: Path | None = Field(None, description="folder of installed model versions "
                               "(versions/<v>/ and the `current` symlink); default "
                               "~/.local/state/edge/models/<device>")
    keep: int = Field(3, ge=1, description="installed versions kept; older ones are pruned")
    public_key: Path | None = Field(None, description="ed25519 public key (PEM); when set, "
                                    "only packages signed with its private key install")
    max_map_drop: float = Field(0.02, ge=0, le=1, description="on-box accuracy gate: largest "
                                "mAP@0.5 drop on the package's sample vs its recorded figure")
    grace_s: float = Field(60.0, gt=0, description="after a swap, watch the pipeline this long; "
                           "a crash, stall or FPS collapse rolls back")
    min_fps_ratio: float = Field(0.5, gt=0, le=1, description="during the grace period, FPS "
                                 "below this fraction of the previous model's rolls back")
    groups: list[str] = Field(default_factory=list, description="group names: the device also "
                              "takes deliveries on <prefix>/group/<name>/model/set")
    updates: bool = Field(True, description="take deliveries on <prefix>/<device>/model/set "
                          "(needs the mqtt section)")
    download_timeout_s: float = Field(120.0, gt=0, description="HTTP(S) download timeout")

    @field_validator("store", "public_key")
    @classmethod
    def _relative_to_file(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        return resolve_path(v, info)

    @field_validator("groups")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        import re

        bad = [g for g in v if not re.match(_NAME, g)]
        if bad:
            raise ValueError(f"group names are letters, digits, '_' and '-': {bad}")
        return v

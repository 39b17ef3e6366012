"""Label files: plain text (one per line, or ``id name`` pairs), or YAML ``names:``."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

PLACEHOLDER = "???"
_PAIR = re.compile(r"^\s*(\d+)\s*[:\s]\s*(.+?)\s*$")


def load_labels(path: str | Path) -> list[str]:
    """Labels indexed by class id; ids missing from an ``id name`` file become ``???``."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"labels file not found: {p}")
    text = p.read_text(encoding="utf-8", errors="replace")
    if p.suffix.lower() in (".yaml", ".yml"):
        data = yaml.safe_load(text) or {}
        names = data.get("names") if isinstance(data, dict) else None
        if isinstance(names, dict):
            return _from_pairs({int(k): str(v) for k, v in names.items()})
        if isinstance(names, list):
            return [str(n) for n in names]
        raise ValueError(f"{p}: expected a 'names:' list or mapping")
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise ValueError(f"{p}: labels file is empty")
    matches = [_PAIR.match(ln) for ln in lines if ln.strip()]
    if all(matches) and len(matches) > 1:
        return _from_pairs({int(m.group(1)): m.group(2) for m in matches})
    return [ln.strip() for ln in lines]


def _from_pairs(pairs: dict[int, str]) -> list[str]:
    out = [PLACEHOLDER] * (max(pairs) + 1 if pairs else 0)
    for k, v in pairs.items():
        if k < 0:
            raise ValueError(f"negative class id {k} in labels")
        out[k] = v
    return out


def label_offset_for(labels: list[str], num_classes: int | None) -> int:
    """1 when the file starts with a background entry the model does not predict."""
    if labels and labels[0].strip().lower() in ("background", "__background__", "bg") and (
        num_classes is None or len(labels) == num_classes + 1
    ):
        return 1
    return 0


def check_labels(labels: list[str], num_classes: int | None, offset: int, where: str) -> None:
    """A labels list must name every class id the model can emit."""
    if num_classes is not None and len(labels) < num_classes + offset:
        raise ValueError(
            f"{where} has {len(labels)} labels but the model predicts {num_classes} classes "
            f"(ids 0..{num_classes - 1}{f' + offset {offset}' if offset else ''}); "
            "use the label file that came with the model"
        )

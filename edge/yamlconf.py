"""Load a YAML file into a pydantic model with errors that point at the line."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A config file that does not validate; the message lists file:line: field: problem."""


def _line_index(node: yaml.Node, path: tuple = (), out: dict | None = None) -> dict[tuple, int]:
    """Map every key path (('rules', 0, 'zone'), ...) to its 1-based line in the file."""
    out = {} if out is None else out
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = k.value
            out[path + (key,)] = k.start_mark.line + 1
            _line_index(v, path + (key,), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            out[path + (i,)] = v.start_mark.line + 1
            _line_index(v, path + (i,), out)
    return out


def load_yaml_model(path: str | Path, model: type[M]) -> M:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    text = p.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping of settings at the top level")
    lines = _line_index(node) if node is not None else {}
    try:
        return model.model_validate(data, context={"config_dir": p.parent})
    except ValidationError as e:
        raise ConfigError(format_errors(p, e, lines)) from None


def format_errors(p: Path, e: ValidationError, lines: dict[tuple, int]) -> str:
    msgs = []
    for err in e.errors():
        loc = tuple(x for x in err["loc"] if not (isinstance(x, str) and x.startswith("function-")))
        line = None
        for n in range(len(loc), 0, -1):  # nearest ancestor that exists in the file
            line = lines.get(loc[:n])
            if line is not None:
                break
        field = ".".join(str(x) for x in loc) or "(top level)"
        where = f"{p}:{line}" if line else str(p)
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see docs/config.md)"
        msgs.append(f"{where}: {field}: {msg}")
    return "invalid config:\n  " + "\n  ".join(msgs)

"""Load a YAML file into a pydantic model with errors that point at the line.

Also the pieces every config model shares: ``StrictModel`` (the one ``extra="forbid"`` base,
so a misspelt key is an error, never a silently ignored setting) and ``resolve_path``
(relative paths follow the config file, not wherever edge was started).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base of every device-config section: unknown keys are errors.

    ``yaml_inline`` names fields whose own keys are written at the top level of the YAML
    (the model gathers them in a ``mode="before"`` validator); error locations drop the
    field name so messages and line numbers point at what the user wrote.
    """

    model_config = ConfigDict(extra="forbid")
    yaml_inline: ClassVar[tuple[str, ...]] = ()


def resolve_path(v: Path | None, info: ValidationInfo) -> Path | None:
    """``v`` joined to the validation context's ``config_dir`` (which ``load_yaml_model``
    supplies) when relative; unchanged when absolute, None or validated without a file."""
    base = (info.context or {}).get("config_dir")
    if v is not None and base is not None and not Path(v).is_absolute():
        return Path(base) / v
    return v


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
    """Validate the YAML mapping in ``path`` as ``model``; ConfigError on any problem."""
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
        raise ConfigError(format_errors(p, e, lines, getattr(model, "yaml_inline", ()))) from None


def format_errors(p: Path, e: ValidationError, lines: dict[tuple, int],
                  inline: tuple[str, ...] = ()) -> str:
    """One ``file:line: field: problem`` line per error; ``inline``: see ``StrictModel``."""
    msgs = []
    for err in e.errors():
        loc = tuple(x for x in err["loc"] if not (isinstance(x, str) and x.startswith("function-")))
        if loc and loc[0] in inline:
            loc = loc[1:]
        line = None
        for n in range(len(loc), 0, -1):  # nearest ancestor that exists in the file
            line = lines.get(loc[:n])
            if line is not None:
                break
        field = ".".join(str(x) for x in loc) or "(top level)"
        where = f"{p}:{line}" if line else str(p)
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see firmware_configs/*.yaml and docs/alerts.md)"
        msgs.append(f"{where}: {field}: {msg}")
    return "invalid config:\n  " + "\n  ".join(msgs)

"""Rules against the model: a rule naming a class the model cannot produce never fires.

Checked when the alerts are loaded (``edge run``, ``edge bundle``, ``edge doctor``), so a
``person`` rule shipped with a raccoon-only model is an error at start, not a silent box.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path

from edge.alerts.config import RuleConfig
from edge.core.labels import PLACEHOLDER, load_labels

SHOWN = 20  # labels listed in the message; COCO's 80 would bury the point


def model_labels(model: str | Path, labels: str | Path | None = None) -> list[str] | None:
    """The class names detections of ``model`` carry: ``labels`` (a file) when given, else
    the model's metadata record; None when it has neither (labels are then class ids)."""
    if labels is not None:
        return load_labels(labels)
    from edge.core.metadata import read_metadata

    md = read_metadata(model)
    return list(md.labels) if md is not None and md.labels else None


def check_rule_labels(rules: Sequence[RuleConfig], known: Sequence[str] | None,
                      model: str | Path) -> None:
    """ValueError naming the first rule label ``model`` cannot produce, the labels it has and
    the closest one. ``known`` None: the model has no labels, so detections are named by
    class id (``"0"``, ``"1"``...)."""
    names = [n for n in known if n != PLACEHOLDER] if known is not None else None
    for rule in rules:
        for label in rule.labels:
            if names is None:
                if label.isdigit():
                    continue
                raise ValueError(f"rule {rule.name!r}: label {label!r} can never match: model "
                                 f"{Path(model).name} has no labels (detections are named by "
                                 "class id); give the labels file (labels: / --labels) or use ids")
            if label in names:
                continue
            close = difflib.get_close_matches(label, names, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            shown = ", ".join(names[:SHOWN]) + (f", ... ({len(names)} in all)"
                                                if len(names) > SHOWN else "")
            raise ValueError(f"rule {rule.name!r}: label {label!r} is not a class of model "
                             f"{Path(model).name} (its labels: {shown}){hint}")

"""Helpers for the conversion tests. The models and their converted variants are the
suite's shared, CI-trained ones (tests/shared_models.py: ``tiny_dataset``, ``tiny_runs``,
``tiny_tflite``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from click.testing import CliRunner


def edge_cli(*args: str):
    """Run the real ``edge`` CLI in-process; returns the click Result."""
    from edge.cli import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def copy_run_without_metadata(run: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(run / "model.keras", dest / "model.keras")
    return dest


def matched(a, b, iou_min: float) -> tuple[int, int]:
    """(matches of a's boxes in b with same class and IoU >= iou_min, len(a)).

    A box clipped to zero area at the image border (barely trained models predict some)
    has no IoU with anything; it matches a box of the same class whose coordinates are all
    within (1 - iou_min) / 10 of its own (0.01 of the image at IoU 0.9).
    """
    from edge.core.boxes import iou_matrix

    if len(a) == 0:
        return 0, 0
    if len(b) == 0:
        return 0, len(a)
    iou = iou_matrix(a.xyxy, b.xyxy)
    same = a.class_ids[:, None] == b.class_ids[None, :]
    flat_a = np.prod(a.xyxy[:, 2:] - a.xyxy[:, :2], axis=1) <= 0
    flat_b = np.prod(b.xyxy[:, 2:] - b.xyxy[:, :2], axis=1) <= 0
    close = np.abs(a.xyxy[:, None] - b.xyxy[None]).max(-1) <= (1 - iou_min) / 10
    ok = same & ((iou >= iou_min) | ((flat_a[:, None] | flat_b[None, :]) & close))
    return int(np.sum(ok.any(axis=1))), len(a)

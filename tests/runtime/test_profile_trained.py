"""The `edge profile` CI bar (issue 6): our own CI-trained tiny-YOLO (tests/shared_models.py),
fp32 and int8, on the synthetic validation split.

Profile must write its table, CSV, JSON and plot, and score each file exactly as
`edge eval` does (one operating point: edge.evaluation.cli.EVAL_SCORE / EVAL_MAX_DETECTIONS
and the same default split), so a user can trust either command's mAP for a variant.
"""

from __future__ import annotations

import csv
import json

import cv2
import pytest
from click.testing import CliRunner

from edge.cli import cli

pytestmark = pytest.mark.slow  # trains and converts the shared tiny-YOLO once per session

VARIANTS = ("tiny-yolo-fp32", "tiny-yolo-int8")


def _cli(*args: str):
    res = CliRunner().invoke(cli, ["-q", *args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res


def test_profile_trained_variants_match_edge_eval(tiny_tflite, tiny_runs, tiny_dataset, tmp_path):
    models = [tiny_tflite[v] for v in VARIANTS]
    out = tmp_path / "prof"
    res = _cli("profile", "--models", *map(str, models), "--data", str(tiny_dataset),
               "--repeats", "2", "--out", str(out))

    # the table, one row per variant, and the recommendation
    assert "mAP@.5" in res.output and "invoke p50" in res.output
    for m in models:
        assert f"{m.stem} [cpu,tdefault]" in res.output
    assert "recommended:" in res.output and "dataset:" in res.output and "(val, 16 images)" in res.output

    data = json.loads((out / "profile.json").read_text())
    rows = data["variants"]
    assert [r["model"] for r in rows] == [str(m) for m in models]
    assert all(r["ok"] for r in rows), [r["error"] for r in rows]
    assert [r["quantization"] for r in rows] == ["fp32", "int8"]
    assert all(r["fps"] > 0 and r["latency_ms"]["invoke"]["p50"] > 0 and r["size_mb"] > 0 for r in rows)
    assert rows[0]["map50"] > 0, "the tiny-YOLO should find some shapes (else the mAP check is empty)"
    assert data["recommendation"]["variant"] in {r["name"] for r in rows}

    with open(out / "profile.csv") as fh:
        table = list(csv.DictReader(fh))
    assert [r["model"] for r in table] == [str(m) for m in models]
    assert [float(r["map50"]) for r in table] == [r["map50"] for r in rows]

    img = cv2.imread(str(out / "profile.png"))
    assert img is not None and img.shape == (550, 800, 3)

    # our files carry provenance.run: profile says how to make the variant not measured
    run = tiny_runs["tiny-yolo"]
    hints = [ln for ln in res.output.splitlines() if ln.startswith("missing variant:")]
    assert hints == [f"missing variant: edge convert --model {run} --quant fp16 "
                     f"--out {run / 'model_fp16.tflite'}"]

    # the same figures as `edge eval` on each file
    for m, row in zip(models, rows):
        ev = tmp_path / f"eval_{m.stem}"
        _cli("eval", "--model", str(m), "--data", str(tiny_dataset), "--out", str(ev))
        metrics = json.loads((ev / "metrics.json").read_text())
        assert metrics["split"] == "val" and metrics["num_images"] == 16
        assert abs(metrics["stats"]["AP50"] - row["map50"]) <= 1e-9, (m.name, metrics["stats"], row)
        assert abs(metrics["stats"]["AP"] - row["map"]) <= 1e-9, (m.name, metrics["stats"], row)

"""Our pycocotools wrapper against the published oracle, and its edge cases."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge.evaluation import evaluate_coco
from edge.evaluation.plots import save_pr_curves


def test_reproduces_coco_oracle_exactly(shared_data: Path) -> None:
    d = shared_data / "coco_eval"
    r = evaluate_coco(d / "instances_val2014_100.json", d / "instances_val2014_fakebbox100_results.json")
    assert r.stats["AP"] == pytest.approx(0.5045806987, abs=5e-11)
    assert r.stats["AP50"] == pytest.approx(0.6969727247, abs=5e-11)
    assert r.stats["AP75"] == pytest.approx(0.5729816670, abs=5e-11)
    assert r.num_images == 100
    # per-class AP averages back to the overall AP over classes that have ground truth
    finite = [v for v in r.per_class_ap.values() if v == v]
    assert sum(finite) / len(finite) == pytest.approx(r.stats["AP"], abs=1e-9)


def test_pr_curves_png(shared_data: Path, tmp_path: Path) -> None:
    d = shared_data / "coco_eval"
    r = evaluate_coco(d / "instances_val2014_100.json", d / "instances_val2014_fakebbox100_results.json")
    png = save_pr_curves(r, tmp_path / "pr.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_detections_scores_zero(shared_data: Path) -> None:
    r = evaluate_coco(shared_data / "coco_eval" / "instances_val2014_100.json", [])
    assert r.map == 0.0 and r.map50 == 0.0


def test_evaluation_package_does_not_import_tensorflow() -> None:
    code = ("import sys, edge.evaluation, edge.evaluation.cli, edge.datasets, "
            "edge.evaluation.evaluate; print('tensorflow' in sys.modules or 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

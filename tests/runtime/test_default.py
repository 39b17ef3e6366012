"""The embedded default: `edge run` with no arguments detects COCO classes (cats, dogs, a
person) in the bundled sample of the model's own Apache-2.0 test images."""

import re
import subprocess
import sys
import zipfile

import pytest

from edge.core.labels import load_labels
from edge.defaults import COCO_DIR, default_model, default_paths

EDGE = [sys.executable, "-c", "from edge.cli import main; main()"]


def test_embedded_model_is_the_published_coco_ssd_with_its_licence(ssd_dir):
    model, labels = default_model()
    assert model.read_bytes() == (ssd_dir / "ssd_mobilenet_v1_coco_quant.tflite").read_bytes()
    names = load_labels(labels)
    assert {"person", "cat", "dog"} <= set(names)
    assert "Apache License" in (COCO_DIR / "LICENSE").read_text()
    _, clip = default_paths()
    assert model.stat().st_size + clip.stat().st_size < 5_000_000


def test_edge_run_without_arguments_prints_coco_detections():
    res = subprocess.run([*EDGE, "run"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("frame")]
    assert len(lines) == 60  # the whole 6 s sample
    seen = {m for ln in lines for m in re.findall(r"(\w+) 0\.\d\d \[", ln)}
    assert {"cat", "dog", "person"} <= seen, res.stdout[-2000:]
    assert "running the embedded default" in res.stderr


def test_edge_run_with_only_a_source_uses_the_same_model(ssd_dir):
    res = subprocess.run([*EDGE, "run", "--source", str(ssd_dir / "grace_hopper.bmp")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "ssd_mobilenet_v1_coco_quant.tflite, on " in res.stderr
    assert re.search(r"person 0\.[6-9]\d \[", res.stdout), res.stdout


@pytest.mark.slow
def test_wheel_ships_the_default_and_its_licence(tmp_path):
    from edge.bundle import build_wheel

    names = set(zipfile.ZipFile(build_wheel(tmp_path)).namelist())
    for f in ("ssd_mobilenet_v1_coco_quant.tflite", "labelmap.txt", "sample.mp4", "LICENSE"):
        assert f"edge/assets/coco/{f}" in names, f

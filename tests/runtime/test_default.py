"""The embedded default: `edge run` with no arguments detects shapes in the bundled clip."""

import re
import subprocess
import sys

from edge.core.metadata import read_metadata
from edge.defaults import default_paths


def test_embedded_model_is_ours_int8_and_small():
    model, clip = default_paths()
    md = read_metadata(model)
    assert md is not None and md.labels == ["square", "circle", "triangle"]
    assert md.input.dtype in ("uint8", "int8") and md.provenance.get("quantization") == "int8"
    assert model.stat().st_size + clip.stat().st_size < 1_000_000


def test_edge_run_without_arguments_prints_detections():
    res = subprocess.run([sys.executable, "-c", "from edge.cli import main; main()", "run",
                          "--max-frames", "90"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("frame")]
    assert len(lines) == 90
    detected = [ln for ln in lines if re.search(r"(square|circle|triangle) 0\.\d\d \[", ln)]
    # shapes are in view for most of the clip, and the model finds them there
    assert len(detected) >= 45, res.stdout[-2000:]
    assert "running the embedded default" in res.stderr and "summary" in res.stderr

"""`edge inspect` through the real CLI: foreign models (with and without TFLite Support
metadata) and a model written by `edge convert` (its contract record)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from edge.cli import cli


def _inspect(path) -> str:
    res = CliRunner().invoke(cli, ["inspect", str(path)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def test_foreign_ssd(ssd_dir):
    out = _inspect(ssd_dir / "ssd_mobilenet_v1_coco_quant.tflite")
    assert "normalized_input_image_tensor" in out and "[1, 300, 300, 3]" in out
    assert "uint8" in out and "scale 0.0078125 zero_point 128" in out
    # custom-op outputs have no shape in the file; the interpreter fills them in
    assert "[1, 10, 4]" in out and "[1, 10]" in out
    assert "TFLite_Detection_PostProcess" in out and "CONV_2D" in out
    assert "no metadata record" in out and "KiB" in out


def test_foreign_ssd_with_support_metadata_prints_labels(ssd_dir):
    out = _inspect(ssd_dir / "ssd_mobilenet_v1_coco_quant_metadata.tflite")
    assert "TFLite Support metadata" in out
    assert "labels (labelmap.txt, 90)" in out and "person, bicycle, car" in out
    assert "scale 0.0078125 zero_point 128" in out


def test_missing_file_names_it(tmp_path):
    res = CliRunner().invoke(cli, ["inspect", str(tmp_path / "nope.tflite")])
    assert res.exit_code != 0 and "nope.tflite" in res.output and "not found" in res.output


@pytest.mark.slow
def test_our_model_prints_contract(tiny_tflite):
    """The suite's CI-trained SSD, converted by `edge convert`'s pipeline (tests/shared_models.py)."""
    path = tiny_tflite["ssd-fp32"]
    out = _inspect(path)
    assert "model contract (edge.model_contract)" in out
    assert '"square", "circle", "triangle"' in out and '"quantization": "fp32"' in out
    assert '"type": "ssd"' in out and "serving_default_image:0" in out
    res = CliRunner().invoke(cli, ["inspect", "--json", str(path)], catch_exceptions=False)
    assert '"labels"' in res.output

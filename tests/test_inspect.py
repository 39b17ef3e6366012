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
def test_our_model_prints_contract(tmp_path):
    """A tiny model converted and tagged here (no training needed to check the record)."""
    import keras

    from convert.metadata_writer import contract_for, embed_metadata
    from convert.tflite import convert_keras
    from tests.convert.tiny_models import build_ssd, metadata

    md = metadata("ssd")
    data = convert_keras(build_ssd(keras), "fp16")
    path = tmp_path / "ours.tflite"
    path.write_bytes(embed_metadata(data, contract_for(md, data, "fp16")))
    out = _inspect(path)
    assert "model contract (edge.model_contract)" in out
    assert '"red", "green", "blue"' in out and '"quantization": "fp16"' in out
    assert '"type": "ssd"' in out and "serving_default_image:0" in out
    res = CliRunner().invoke(cli, ["inspect", "--json", str(path)], catch_exceptions=False)
    assert '"labels"' in res.output

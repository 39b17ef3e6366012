"""Bad input to `edge convert` fails early with a message naming the file and the problem."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.convert.conftest import copy_run_without_metadata, edge_cli

pytestmark = pytest.mark.slow  # needs a session-trained model (tests/shared_models.py)


@pytest.fixture
def run(tiny_runs):
    """Any trained run will do; the tiny-YOLO converts fastest (and fusion must refuse it)."""
    return tiny_runs["tiny-yolo"]


def _convert(run, out, *extra):
    return edge_cli("convert", "--model", str(run), "--out", str(out), "--no-parity", *extra)


def test_missing_calibration_folder(run, tmp_path):
    res = _convert(run, tmp_path / "m.tflite", "--quant", "int8", "--calib-data",
                   str(tmp_path / "nope"))
    assert res.exit_code != 0
    assert "--calib-data" in res.output and "no such folder" in res.output


def test_empty_calibration_folder(run, tmp_path):
    (tmp_path / "empty").mkdir()
    res = _convert(run, tmp_path / "m.tflite", "--quant", "int8", "--calib-data",
                   str(tmp_path / "empty"))
    assert res.exit_code != 0 and "no images found" in res.output


def test_int8_without_calibration(run, tmp_path):
    res = _convert(run, tmp_path / "m.tflite", "--quant", "int8")
    assert res.exit_code != 0 and "--calib-data" in res.output


def test_unreadable_calibration_image_is_named(run, tmp_path):
    # grayscale is fine (the one image reader makes it BGR); a file that is no image is not
    folder = tmp_path / "calib"
    folder.mkdir()
    cv2.imwrite(str(folder / "gray.png"), np.full((40, 50), 128, np.uint8))
    (folder / "a.png").write_text("not an image")
    res = _convert(run, tmp_path / "m.tflite", "--quant", "int8", "--calib-data", str(folder))
    assert res.exit_code != 0
    assert "a.png" in res.output and "unreadable image" in res.output and "gray.png" not in res.output


def test_keras_file_without_metadata(run, tmp_path):
    bare = copy_run_without_metadata(run, tmp_path / "bare")
    res = _convert(bare / "model.keras", tmp_path / "m.tflite", "--quant", "fp32")
    assert res.exit_code != 0
    assert "model.edge.json" in res.output and "model.keras" in res.output


def test_output_in_missing_directory(run, tmp_path):
    out = tmp_path / "no" / "such" / "m.tflite"
    res = _convert(run, out, "--quant", "fp32")
    assert res.exit_code != 0 and str(out.parent) in res.output and "does not exist" in res.output


def test_io_type_needs_int8(run, tmp_path):
    res = _convert(run, tmp_path / "m.tflite", "--quant", "fp16", "--io", "uint8")
    assert res.exit_code != 0 and "--io uint8 needs --quant int8" in res.output


def test_fusion_needs_ssd(run, tmp_path):
    res = _convert(run, tmp_path / "m.tflite", "--quant", "fp32", "--fuse-postprocess")
    assert res.exit_code != 0 and "needs an SSD model" in res.output


def test_parity_report_on_success(run, tiny_dataset, tmp_path):
    out = tmp_path / "m.tflite"
    res = edge_cli("convert", "--model", str(run), "--out", str(out), "--quant", "fp32",
                   "--val-data", str(tiny_dataset))
    assert res.exit_code == 0, res.output
    assert "mAP@0.5" in res.output and "PASS" in res.output and out.exists()


def test_parity_gate_fails_with_report():
    from convert.parity import ParityReport

    r = ParityReport(0.80, 0.50, 0.75, 0.46, {"red": (0.8, 0.7)}, max_drop=0.02, num_images=10)
    assert not r.passed and abs(r.drop50 - 0.05) < 1e-9
    text = r.text()
    assert "FAIL: mAP@0.5 dropped 0.0500 and mAP@[.5:.95] dropped 0.0400 > --max-drop 0.02" in text
    assert "AP50 red" in text


def test_parity_gate_watches_box_precision_too():
    """An int8 model that keeps mAP@0.5 but loses 0.03 mAP@[.5:.95] used to pass silently."""
    from convert.parity import ParityReport

    r = ParityReport(0.95, 0.60, 0.95, 0.57, {"red": (0.95, 0.95)}, max_drop=0.02, num_images=10)
    assert not r.passed and r.failures() == ["mAP@[.5:.95] dropped 0.0300"]
    assert "FAIL: mAP@[.5:.95] dropped 0.0300 > --max-drop 0.02" in r.text()
    assert r.to_dict()["drop"] == 0.03


def test_failed_int8_parity_retries_with_more_calibration_images_when_there_are_more(tmp_path):
    from convert.pipeline import ConvertOptions, retry_calibration_count

    folder = tmp_path / "calib"
    folder.mkdir()
    for i in range(10):
        cv2.imwrite(str(folder / f"{i}.jpg"), np.full((8, 8, 3), i * 20, np.uint8))
    opts = ConvertOptions(calib_data=folder, calib_count=2)
    assert retry_calibration_count(opts, 2) == 8  # 4x what was used
    assert retry_calibration_count(opts, 4) == 10  # capped by what the folder has
    assert retry_calibration_count(opts, 10) is None  # nothing more to try

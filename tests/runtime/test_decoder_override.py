"""Issue 13: a --decoder the model's outputs cannot have says so, instead of failing in decoding."""

from __future__ import annotations

from click.testing import CliRunner

from edge.cli import cli


def test_yolov8_decoder_on_an_ssd_model_names_layout_and_outputs(ssd_dir):
    model = ssd_dir / "ssd_mobilenet_v1_coco_quant.tflite"
    res = CliRunner().invoke(cli, ["-q", "run", "--model", str(model),
                                   "--source", str(ssd_dir / "cats_and_dogs.jpg"), "--decoder", "yolov8"])
    assert res.exit_code != 0
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    msg = res.output.strip().splitlines()[-1]
    assert msg.startswith("Error: ") and "argmax" not in msg
    assert "--decoder yolov8 expects YOLOv8 [1, 4+C, N]" in msg
    assert "[1, 10, 4]" in msg and "'postprocess'" in msg


def test_yolov5_decoder_on_a_yolov5_model_still_runs(yolo_dir):
    res = CliRunner().invoke(cli, ["-q", "run", "--model", str(yolo_dir / "yolov5n-int8.tflite"),
                                   "--labels", str(yolo_dir / "coco.yaml"), "--decoder", "yolov5",
                                   "--source", str(yolo_dir / "bus.jpg"), "--score", "0.25"])
    assert res.exit_code == 0, res.output
    # conf 0.25 as in Ultralytics' predict: with its INTER_LINEAR letterbox (our default for
    # foreign YOLO models) the bus scores ~0.48, under the default 0.5
    assert '"bus"' in res.output and '"person"' in res.output

"""Bad input gets a one-line error naming what is wrong; nothing crashes with a traceback."""

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edge.cli import cli


def run_cli(*args: str):
    res = CliRunner().invoke(cli, ["-q", "run", *args])
    assert res.exit_code != 0, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    msg = res.output.strip().splitlines()[-1]
    assert msg.startswith("Error: ")
    return msg


@pytest.fixture(scope="module")
def ssd_args(ssd_dir):
    return ["--model", str(ssd_dir / "ssd_mobilenet_v1_coco_quant.tflite"),
            "--labels", str(ssd_dir / "labelmap.txt")]


def test_missing_model(ssd_dir, tmp_path):
    msg = run_cli("--model", str(tmp_path / "nope.tflite"), "--source", str(ssd_dir / "cat.bmp"))
    assert "nope.tflite: model file not found" in msg


def test_truncated_model(ssd_dir, tmp_path):
    cut = tmp_path / "cut.tflite"
    cut.write_bytes((ssd_dir / "ssd_mobilenet_v1_coco_quant.tflite").read_bytes()[:200_000])
    msg = run_cli("--model", str(cut), "--source", str(ssd_dir / "cat.bmp"))
    assert "cut.tflite: truncated or corrupt TFLite flatbuffer" in msg


def test_not_a_tflite_file(ssd_dir, tmp_path):
    bogus = tmp_path / "model.tflite"
    bogus.write_text("this is a text file")
    msg = run_cli("--model", str(bogus), "--source", str(ssd_dir / "cat.bmp"))
    assert "model.tflite: not a TFLite model" in msg


def test_empty_model(ssd_dir, tmp_path):
    empty = tmp_path / "empty.tflite"
    empty.write_bytes(b"")
    assert "empty.tflite: model file is empty" in run_cli("--model", str(empty), "--source",
                                                          str(ssd_dir / "cat.bmp"))


@pytest.mark.slow
def test_model_whose_outputs_match_no_decoder(ssd_dir, tmp_path):
    """A real classifier-shaped model (one [1, 7] output), converted with TFLite."""
    tf = pytest.importorskip("tensorflow")
    inp = tf.keras.Input((32, 32, 3))
    x = tf.keras.layers.GlobalAveragePooling2D()(tf.keras.layers.Conv2D(4, 3)(inp))
    model = tf.keras.Model(inp, tf.keras.layers.Dense(7)(x))
    path = tmp_path / "classifier.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    msg = run_cli("--model", str(path), "--source", str(ssd_dir / "cat.bmp"))
    assert "match no known detector layout" in msg and "[1, 7]" in msg.replace("(", "[").replace(
        ")", "]") and "--decoder" in msg


def test_labels_shorter_than_class_ids(yolo_dir, tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("person\nbicycle\ncar\n")
    msg = run_cli("--model", str(yolo_dir / "yolov5n-int8.tflite"), "--labels", str(short),
                  "--source", str(yolo_dir / "bus.jpg"))
    assert "short.txt has 3 labels but the model predicts 80 classes" in msg


def test_unreadable_image(ssd_args, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    msg = run_cli(*ssd_args, "--source", str(bad))
    assert "broken.jpg: unreadable image" in msg


def test_unreadable_image_in_folder_is_skipped_and_reported(ssd_args, ssd_dir, tmp_path, caplog):
    import shutil

    shutil.copy(ssd_dir / "cat.bmp", tmp_path / "a.bmp")
    (tmp_path / "b.jpg").write_bytes(b"garbage")
    out = tmp_path / "out.jsonl"
    res = CliRunner().invoke(cli, ["run", *ssd_args, "--source", str(tmp_path), "--jsonl", str(out)])
    assert res.exit_code == 0, res.output
    assert len(out.read_text().splitlines()) == 1
    assert "b.jpg: unreadable image" in caplog.text


def test_unknown_source(ssd_args):
    msg = run_cli(*ssd_args, "--source", "definitely/not/here.mp4")
    assert "source definitely/not/here.mp4: no such file or folder" in msg  # a path, missing
    msg = run_cli(*ssd_args, "--source", "hallcam")
    assert "unknown source 'hallcam'" in msg


def test_missing_camera_device(ssd_args):
    msg = run_cli(*ssd_args, "--source", "/dev/video99")
    assert "/dev/video99: no such device" in msg


def test_config_with_unknown_key(ssd_dir, tmp_path):
    cfg = tmp_path / "box.yaml"
    cfg.write_text(f"device: door\nmodel: {ssd_dir / 'ssd_mobilenet_v1_coco_quant.tflite'}\n"
                   f"source: {ssd_dir / 'cat.bmp'}\nthreds: 2\n")
    res = CliRunner().invoke(cli, ["-q", "run", "--config", str(cfg)])
    assert res.exit_code != 0
    assert f"{cfg}:4: threds: unknown key" in res.output


def test_config_with_bad_value_points_at_line(ssd_dir, tmp_path):
    cfg = tmp_path / "box.yaml"
    cfg.write_text(f"model: {ssd_dir / 'ssd_mobilenet_v1_coco_quant.tflite'}\n"
                   "source: 0\nscore: 1.5\n")
    res = CliRunner().invoke(cli, ["-q", "run", "--config", str(cfg)])
    assert res.exit_code != 0 and f"{cfg}:3: score:" in res.output


def test_wrong_image_size_for_backend_is_explained(ssd_dir):
    from edge.backends.tflite import TfliteBackend

    b = TfliteBackend(Path(ssd_dir / "ssd_mobilenet_v1_coco_quant.tflite"))
    with pytest.raises(ValueError, match="model expects 300x300"):
        b.invoke(np.zeros((10, 10, 3), np.uint8))

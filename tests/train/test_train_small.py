"""Real training of tiny models on synthetic data: loss falls, the run reloads, eval scores it,
and the architectures quantize to full int8 with Edge TPU-friendly ops."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edge.core.metadata import ModelMetadata
from edge.evaluation.cli import eval_command
from train.fit import TrainConfig, train
from train.keras_detector import KerasDetector

ARCH = [("ssd", 0.35), ("tiny-yolo", 0.25)]


@pytest.mark.slow
@pytest.mark.parametrize(("arch", "width"), ARCH)
def test_tiny_model_trains_reloads_and_evaluates(arch: str, width: float, synth_data: Path,
                                                 tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = train(TrainConfig(data=synth_data, out=out, model=arch, input_size=96, epochs=4, batch_size=8,
                          width=width, lr=3e-3, augment=False, verbose=0, seed=1))
    loss = r.history["loss"]
    assert loss[-1] < loss[0], loss
    assert (out / "model.keras").is_file() and (out / "history.csv").is_file()
    md = ModelMetadata.from_json((out / "model.edge.json").read_text())
    assert md.labels == ["square", "circle", "triangle"]
    assert md.input.size_wh == (96, 96) and md.input.resize == "letterbox"
    assert md.decoder.type == ("ssd" if arch == "ssd" else "yolo")
    assert "val_map" in md.provenance
    det = KerasDetector.load(out)
    names = [t.name.split(":")[0] for t in det.model.outputs]
    if arch == "ssd":
        assert [o.shape[-1] for o in det.model.outputs] == [4, 4]  # 3 classes + background
        assert [n.split("/")[0] for n in names] == ["boxes", "scores"] or det.model.output_names == [
            "boxes", "scores"]
    else:
        assert det.model.output_names == ["grid_s16", "grid_s32"]
    res = CliRunner().invoke(eval_command, ["--model", str(out), "--data", str(synth_data),
                                            "--out", str(tmp_path / "eval")])
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["num_images"] == 6 and set(metrics["per_class_ap"]) == {"square", "circle", "triangle"}
    assert (tmp_path / "eval" / "pr_curves.png").is_file()


# ops the Edge TPU compiler maps (coral.ai/docs/edgetpu/models-intro#supported-operations)
EDGETPU_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MUL", "SUB", "CONCATENATION", "RESHAPE", "LOGISTIC",
               "MAX_POOL_2D", "RESIZE_NEAREST_NEIGHBOR", "TRANSPOSE_CONV", "QUANTIZE", "DEQUANTIZE", "RELU6",
               "RELU", "AVERAGE_POOL_2D", "PAD", "MEAN"}


@pytest.mark.slow
@pytest.mark.parametrize(("arch", "width"), [*ARCH, ("ssd-stride8", 0.35), ("tiny-yolo-3l", 0.25)])
def test_architecture_quantizes_to_int8_with_edgetpu_ops(arch: str, width: float, tmp_path: Path) -> None:
    import tensorflow as tf

    from edge.core.tflite_file import read_tflite
    from train.models.ssd import build_ssd
    from train.models.tiny_yolo import build_tiny_yolo

    if arch.startswith("ssd"):
        model = build_ssd(96, 3, alpha=width, min_stride=8 if arch == "ssd-stride8" else 16)[0]
    else:
        model = build_tiny_yolo(96, 3, width=width, strides=(8, 16, 32) if arch.endswith("3l") else (16, 32))
    # the device runs batch 1: a fixed-batch signature gives static shapes throughout
    saved = tmp_path / "saved"
    model.export(str(saved), format="tf_saved_model", verbose=False,
                 input_signature=[tf.TensorSpec([1, 96, 96, 3], tf.float32)])
    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(0)
    conv.representative_dataset = lambda: ([rng.uniform(0, 1, (1, 96, 96, 3)).astype(np.float32)]
                                           for _ in range(4))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.uint8
    conv.inference_output_type = tf.uint8
    path = tmp_path / "m.tflite"
    path.write_bytes(conv.convert())
    f = read_tflite(path)
    ops = {o.opcode for o in f.operators}
    assert ops <= EDGETPU_OPS, ops - EDGETPU_OPS
    interp = tf.lite.Interpreter(str(path))
    assert all(d["dtype"] == np.uint8 for d in interp.get_input_details() + interp.get_output_details())
    assert all(len(d["shape"]) and -1 not in d["shape_signature"] for d in interp.get_input_details())

"""Keras -> ``.tflite`` bytes: fp32, fp16, dynamic-range or full-integer (int8) quantization.

Keras 3 models are exported through ``keras.export.ExportArchive`` (what
``TFLiteConverter.from_keras_model`` does internally) so the serving function can add the
fused post-process op; ``from_concrete_functions`` on a Keras 3 model leaves unfrozen
variables that the int8 calibrator cannot read. Output signature keys are the Keras output
names (``boxes``/``scores``, ``grid_s8``...) or ``postprocess.FUSED_OUTPUTS``; the device
finds outputs by these keys, never by position.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

QUANT_MODES = ("fp32", "fp16", "dynamic", "int8")
IO_TYPES = ("uint8", "int8", "float")


def check_options(quant: str, io: str | None, has_calibration: bool) -> str:
    """Validate the quantization/IO pair; returns the effective IO type."""
    if quant not in QUANT_MODES:
        raise ValueError(f"--quant must be one of {QUANT_MODES}, got {quant!r}")
    if io is not None and io not in IO_TYPES:
        raise ValueError(f"--io must be one of {IO_TYPES}, got {io!r}")
    if quant != "int8":
        if io not in (None, "float"):
            raise ValueError(f"--io {io} needs --quant int8 (a {quant} model has float I/O)")
        return "float"
    if not has_calibration:
        raise ValueError("--quant int8 needs calibration images: pass --calib-data FOLDER "
                         "(images like the deployment camera's; ~300 are enough)")
    return io or "uint8"  # uint8 in/out is what the Edge TPU and most Pi pipelines feed


def _named_outputs(model: Any, out: Any) -> dict:
    if isinstance(out, dict):
        return dict(out)
    outs = out if isinstance(out, (list, tuple)) else [out]
    return dict(zip(model.output_names, outs))


def serving_fn(model: Any, head: Callable | None = None) -> Callable:
    """image [1,H,W,C] float32 -> dict of named outputs (raw heads, or the fused op's)."""

    def serve(image):
        out = _named_outputs(model, model(image, training=False))
        if head is None:
            return out
        return head(out["boxes"], out["scores"])

    return serve


@contextlib.contextmanager
def configured_converter(
    model: Any,
    quant: str,
    io: str = "float",
    calibration: Sequence[np.ndarray] | None = None,
    head: Callable | None = None,
    input_name: str = "image",
) -> Iterator[Any]:
    """The ``tf.lite.TFLiteConverter`` set up for ``quant``/``io``, valid inside the ``with``
    (it reads a SavedModel in a temporary folder). ``convert_keras`` converts with it; TFLite's
    QuantizationDebugger (the float head, ``bench/int8_where.py``) needs the converter itself."""
    import keras
    import tensorflow as tf

    io = check_options(quant, io, bool(calibration))
    h, w, c = (int(d) for d in model.inputs[0].shape[1:])
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", serving_fn(model, head),
                         input_signature=[tf.TensorSpec([1, h, w, c], tf.float32, name=input_name)])
    with tempfile.TemporaryDirectory(prefix="edge-convert-") as tmp:
        saved = Path(tmp) / "saved_model"
        archive.write_out(str(saved), verbose=False)
        conv = tf.lite.TFLiteConverter.from_saved_model(str(saved))
        if head is not None:
            conv.allow_custom_ops = True  # TFLite_Detection_PostProcess is a custom op
        if quant == "fp16":
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.target_spec.supported_types = [tf.float16]
        elif quant == "dynamic":
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
        elif quant == "int8":
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.representative_dataset = lambda: ([x] for x in calibration)  # type: ignore[union-attr]
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            if io != "float":
                dtype = tf.uint8 if io == "uint8" else tf.int8
                conv.inference_input_type = dtype
                if head is None:  # the fused op emits float boxes/scores whatever we ask
                    conv.inference_output_type = dtype
        yield conv


def convert_keras(
    model: Any,
    quant: str,
    io: str = "float",
    calibration: Sequence[np.ndarray] | None = None,
    head: Callable | None = None,
    input_name: str = "image",
    float_head: bool = False,
) -> bytes:
    """Convert ``model`` (Keras 3, input [B, H, W, C] float32) to TFLite flatbuffer bytes.

    calibration: (1, H, W, C) float32 inputs prepared as on the device (int8 only).
    head: optional function applied to the ``boxes``/``scores`` outputs (post-process fusion).
    float_head: int8 only: keep the output head (see ``head_tensor_names``) in float, the rest
    int8; the model then has float input and outputs. Not for the Edge TPU (it runs int8 ops
    only, so a float head splits the graph and runs on the CPU).
    """
    with configured_converter(model, quant, io, calibration, head, input_name) as conv:
        try:
            if float_head and quant == "int8":
                return _convert_float_head(conv, model, calibration)
            return bytes(conv.convert())
        except Exception as e:  # noqa: BLE001 - converter errors come in many types
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise RuntimeError(f"TFLite converter failed ({quant}, io {io}): {first}") from e


def head_tensor_names(names: Sequence[str], output_names: Sequence[str], outputs: Sequence[str]) -> list[str]:
    """The converted graph's tensors that belong to the output head: those made by a Keras
    layer named after a model output (``grid_s16_box``, ``grid_s16_join``... for the output
    ``grid_s16``), and the outputs themselves."""
    keys = [f"/{o}_" for o in output_names] + [f"/{o}/" for o in output_names]
    return [n for n in names if n in outputs or any(k in n for k in keys)]


def _convert_float_head(conv: Any, model: Any, calibration: Sequence[np.ndarray] | None) -> bytes:
    """Selective quantization through TFLite's QuantizationDebugger (its public API for it)."""
    import tensorflow as tf

    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.float32
    sample = list(calibration or [])[:2]  # the debugger's own statistics pass; unused here
    dbg = tf.lite.experimental.QuantizationDebugger(converter=conv,
                                                    debug_dataset=lambda: ([x] for x in sample))
    with warnings.catch_warnings():  # tf.lite.Interpreter's deprecation notice; only names are read
        warnings.simplefilter("ignore")
        interp = tf.lite.Interpreter(model_content=dbg.calibrated_model)
    names = [t["name"] for t in interp.get_tensor_details()]
    outputs = [t["name"] for t in interp.get_output_details()]
    nodes = head_tensor_names(names, list(model.output_names), outputs)
    if not nodes:
        raise ValueError(f"no head tensors found for outputs {list(model.output_names)}")
    dbg.options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=nodes)
    return bytes(dbg.get_nondebug_quantized_model())

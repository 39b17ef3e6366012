"""Our model-contract record inside the ``.tflite`` flatbuffer (``Model.metadata`` list).

The record is a ``Buffer`` holding the JSON plus a ``Metadata`` entry named
``edge.core.metadata.METADATA_NAME`` that points at it; an existing entry of that name is
replaced. Uses the flatbuffer object API generated from the TFLite schema (shipped with
ai-edge-litert), so no TensorFlow is needed here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edge.core.metadata import METADATA_NAME, DecoderSpec, ModelMetadata
from edge.core.tflite_file import parse_tflite


def _schema():
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:  # older installs: the same generated module inside TensorFlow
        from tensorflow.lite.python import schema_py_generated as schema  # type: ignore[no-redef]
    return schema


def embed_metadata(tflite: bytes, record: ModelMetadata, name: str = METADATA_NAME) -> bytes:
    """Return ``tflite`` with ``record`` (JSON) stored under ``name`` in its metadata list."""
    import flatbuffers

    schema = _schema()
    model = schema.ModelT.InitFromPackedBuf(bytearray(tflite), 0)
    buf = schema.BufferT()
    buf.data = np.frombuffer(record.to_json().encode("utf-8"), np.uint8)
    model.buffers = list(model.buffers or [])
    model.buffers.append(buf)
    entries: list[Any] = [m for m in (model.metadata or []) if _name(m) != name]
    entry = schema.MetadataT()
    entry.name = name
    entry.buffer = len(model.buffers) - 1
    entries.append(entry)
    model.metadata = entries
    builder = flatbuffers.Builder(len(tflite) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _name(m: Any) -> str:
    n = m.name
    return n.decode() if isinstance(n, bytes) else str(n or "")


def contract_for(
    trained: ModelMetadata, tflite: bytes, quant: str, decoder: DecoderSpec | None = None,
    provenance: dict | None = None,
) -> ModelMetadata:
    """The training record updated for the converted model.

    Input dtype and quantization come from the converted graph itself (the converter
    decides them); normalization is kept: the device maps pixels through it and then
    through the input quantization, which is what calibration measured.
    """
    f = parse_tflite(tflite)
    t = f.tensors[f.inputs[0]]
    if t.dtype not in ("uint8", "int8", "float32", "float16"):
        raise ValueError(f"converted model input is {t.dtype}; expected uint8, int8 or float")
    quantized = t.dtype in ("uint8", "int8") and t.scale.size > 0
    inp = trained.input.model_copy(update={
        "dtype": t.dtype,
        "quant_scale": float(t.scale[0]) if quantized else None,
        "quant_zero_point": int(t.zero_point[0]) if quantized else None,
    })
    prov = dict(trained.provenance)
    prov["quantization"] = quant
    prov.update(provenance or {})
    return trained.model_copy(update={
        "input": inp,
        "decoder": decoder if decoder is not None else trained.decoder,
        "provenance": prov,
    })

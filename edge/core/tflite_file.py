"""A small read-only view of a ``.tflite`` flatbuffer, with no TensorFlow.

The device needs a few facts the interpreter API does not expose: our metadata record,
the anchors constant of ``TFLite_Detection_PostProcess`` and its options, and the op list
(for ``edge inspect`` and the Edge TPU pre-check). Field numbers follow
``tensorflow/lite/schema/schema.fbs``; only what we read is mapped.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from flatbuffers import number_types as N
from flatbuffers import table

from edge.core.tflite_ops import BUILTIN_OPS

# TensorType enum (schema.fbs) -> numpy dtype / name
TENSOR_TYPES: dict[int, tuple[str, type | None]] = {
    0: ("float32", np.float32), 1: ("float16", np.float16), 2: ("int32", np.int32),
    3: ("uint8", np.uint8), 4: ("int64", np.int64), 5: ("string", None), 6: ("bool", np.bool_),
    7: ("int16", np.int16), 8: ("complex64", np.complex64), 9: ("int8", np.int8),
    10: ("float64", np.float64), 12: ("uint64", np.uint64), 15: ("uint32", np.uint32),
    16: ("uint16", np.uint16), 17: ("int4", None),
}


class ModelFileError(ValueError):
    """A file that is missing, truncated, or not a TFLite flatbuffer."""


@dataclass
class TensorInfo:
    index: int
    name: str
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]
    dtype: str
    buffer: int
    scale: np.ndarray
    zero_point: np.ndarray


@dataclass
class OperatorInfo:
    opcode: str  # builtin name (e.g. "CONV_2D") or custom code
    custom: bool
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    custom_options: bytes = b""


@dataclass
class TfliteFile:
    path: Path | None
    size_bytes: int
    tensors: list[TensorInfo]
    operators: list[OperatorInfo]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    metadata: dict[str, bytes] = field(default_factory=dict)
    _buffers: list[bytes] = field(default_factory=list, repr=False)

    def constant(self, tensor_index: int, dequantize: bool = True) -> np.ndarray | None:
        """Value of a constant tensor (None if it has no data), dequantized if asked."""
        t = self.tensors[tensor_index]
        data = self._buffers[t.buffer] if 0 <= t.buffer < len(self._buffers) else b""
        dtype = TENSOR_TYPES.get(self._type_code(t.dtype), (None, None))[1]
        if not data or dtype is None:
            return None
        arr = np.frombuffer(data, dtype=dtype).reshape(t.shape)
        if dequantize and t.scale.size and np.issubdtype(arr.dtype, np.integer):
            zp = t.zero_point if t.zero_point.size else 0
            return ((arr.astype(np.float32) - zp) * t.scale).astype(np.float32)
        return arr

    @staticmethod
    def _type_code(name: str) -> int:
        return next(k for k, (n, _) in TENSOR_TYPES.items() if n == name)

    def op_histogram(self) -> dict[str, int]:
        hist: dict[str, int] = {}
        for op in self.operators:
            hist[op.opcode] = hist.get(op.opcode, 0) + 1
        return dict(sorted(hist.items(), key=lambda kv: (-kv[1], kv[0])))


def builtin_name(code: int) -> str:
    """Name of BuiltinOperator ``code`` (e.g. 3 -> "CONV_2D"); ``BUILTIN_<code>`` if unknown."""
    return BUILTIN_OPS[code] if 0 <= code < len(BUILTIN_OPS) else f"BUILTIN_{code}"


class _T(table.Table):
    def off(self, field_no: int) -> int:
        return self.Offset(4 + 2 * field_no)

    def scalar(self, field_no: int, flags, default=0):
        o = self.off(field_no)
        return self.Get(flags, o + self.Pos) if o else default

    def string(self, field_no: int) -> str:
        o = self.off(field_no)
        return self.String(o + self.Pos).decode("utf-8", "replace") if o else ""

    def vec_len(self, field_no: int) -> int:
        o = self.off(field_no)
        return self.VectorLen(o) if o else 0

    def tables(self, field_no: int) -> list[_T]:
        o = self.off(field_no)
        if not o:
            return []
        start, n = self.Vector(o), self.VectorLen(o)
        return [_T(self.Bytes, self.Indirect(start + 4 * j)) for j in range(n)]

    def sub(self, field_no: int) -> _T | None:
        o = self.off(field_no)
        return _T(self.Bytes, self.Indirect(o + self.Pos)) if o else None

    def numbers(self, field_no: int, np_dtype) -> np.ndarray:
        o = self.off(field_no)
        if not o:
            return np.zeros(0, np_dtype)
        start, n = self.Vector(o), self.VectorLen(o)
        return np.frombuffer(self.Bytes, dtype=np_dtype, count=n, offset=start).copy()

    def raw_bytes(self, field_no: int) -> bytes:
        o = self.off(field_no)
        if not o:
            return b""
        start, n = self.Vector(o), self.VectorLen(o)
        return bytes(self.Bytes[start:start + n])


def parse_tflite(data: bytes, path: Path | None = None) -> TfliteFile:
    """Parse flatbuffer bytes; raises ModelFileError naming ``path`` on any corruption."""
    where = str(path) if path else "model bytes"
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelFileError(
            f"{where}: not a TFLite model (expected the 'TFL3' flatbuffer identifier; "
            f"got {data[4:8]!r}, {len(data)} bytes)"
        )
    try:
        return _parse(bytearray(data), path)
    except (struct.error, IndexError, ValueError, UnicodeDecodeError) as e:
        raise ModelFileError(f"{where}: truncated or corrupt TFLite flatbuffer ({e})") from e


def _parse(buf: bytearray, path: Path | None) -> TfliteFile:
    root = _T(buf, struct.unpack_from("<I", buf, 0)[0])
    if root.Pos >= len(buf):
        raise ValueError("root offset beyond end of file")
    buffers_raw = []
    for b in root.tables(4):
        data = b.raw_bytes(0)
        if not data:
            off, size = b.scalar(1, N.Uint64Flags), b.scalar(2, N.Uint64Flags)
            if off > 1 and size:  # large models keep buffers after the flatbuffer
                if off + size > len(buf):
                    raise ValueError(f"buffer data at {off}+{size} beyond end of file")
                data = bytes(buf[off:off + size])
        buffers_raw.append(data)
    codes = []
    for oc in root.tables(1):
        dep = oc.scalar(0, N.Int8Flags)
        code = max(dep, oc.scalar(3, N.Int32Flags))
        custom = oc.string(1)
        codes.append((custom, True) if custom else (builtin_name(code), False))
    subgraphs = root.tables(2)
    if not subgraphs:
        raise ValueError("model has no subgraphs")
    sg = subgraphs[0]
    tensors = []
    for i, t in enumerate(sg.tables(0)):
        q = t.sub(4)
        tensors.append(TensorInfo(
            index=i, name=t.string(3),
            shape=tuple(int(v) for v in t.numbers(0, np.int32)),
            shape_signature=tuple(int(v) for v in t.numbers(7, np.int32)),
            dtype=TENSOR_TYPES.get(t.scalar(1, N.Int8Flags), (f"type{t.scalar(1, N.Int8Flags)}", None))[0],
            buffer=t.scalar(2, N.Uint32Flags),
            scale=q.numbers(2, np.float32) if q else np.zeros(0, np.float32),
            zero_point=q.numbers(3, np.int64) if q else np.zeros(0, np.int64),
        ))
    operators = []
    for op in sg.tables(3):
        idx = op.scalar(0, N.Uint32Flags)
        name, custom = codes[idx] if idx < len(codes) else (f"OPCODE_{idx}", False)
        operators.append(OperatorInfo(
            opcode=name, custom=custom,
            inputs=tuple(int(v) for v in op.numbers(1, np.int32)),
            outputs=tuple(int(v) for v in op.numbers(2, np.int32)),
            custom_options=op.raw_bytes(5),
        ))
    metadata = {}
    for m in root.tables(6):
        bi = m.scalar(1, N.Uint32Flags)
        metadata[m.string(0)] = buffers_raw[bi] if bi < len(buffers_raw) else b""
    return TfliteFile(
        path=path, size_bytes=len(buf), tensors=tensors, operators=operators,
        inputs=tuple(int(v) for v in sg.numbers(1, np.int32)),
        outputs=tuple(int(v) for v in sg.numbers(2, np.int32)),
        metadata=metadata, _buffers=buffers_raw,
    )


def read_tflite(path: str | Path) -> TfliteFile:
    """Read and parse a ``.tflite`` file; errors name the file and what is wrong."""
    p = Path(path)
    if not p.exists():
        raise ModelFileError(f"{p}: model file not found")
    if p.is_dir():
        raise ModelFileError(f"{p}: is a directory, expected a .tflite file")
    data = p.read_bytes()
    if not data:
        raise ModelFileError(f"{p}: model file is empty")
    return parse_tflite(data, p)

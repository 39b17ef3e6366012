"""Edge TPU: run ``edgetpu_compiler``, parse its log into a report, gate on it; and an
offline pre-check for machines without the compiler.

The compiler prints (and writes to ``<stem>_edgetpu.log``) a summary such as::

    On-chip memory used for caching model parameters: 6.08MiB
    Off-chip memory used for streaming uncached model parameters: 1.70MiB
    Number of Edge TPU subgraphs: 2
    Total number of operations: 294
    Number of operations that will run on Edge TPU: 289
    Number of operations that will run on CPU: 5

    Operator                       Count      Status
    CONV_2D                        61         Mapped to Edge TPU
    QUANTIZE                       2          Operation is otherwise supported, but not mapped ...

The pre-check reads the flatbuffer (``edge.core.tflite_file``) and predicts CPU fallback
from the rules published at coral.ai/docs/edgetpu/models-intro (supported operations,
8-bit tensors, static shapes, at most 3 dimensions > 1). It is a prediction; the compiler
has the last word (it also refuses ops after the first unsupported one in a chain).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from edge.core.tflite_file import TfliteFile, read_tflite

COMPILER = "edgetpu_compiler"
INSTALL_HINT = (
    "edgetpu_compiler is not on PATH. It runs on x86-64 Debian/Ubuntu only: "
    "curl https://packages.cloud.google.com/apt/doc/apt-key.gpg | sudo apt-key add - && "
    'echo "deb https://packages.cloud.google.com/apt coral-edgetpu-stable main" | '
    "sudo tee /etc/apt/sources.list.d/coral-edgetpu.list && sudo apt-get update && "
    "sudo apt-get install edgetpu-compiler (see coral.ai/docs/edgetpu/compiler)"
)

# coral.ai/docs/edgetpu/models-intro "Supported operations" (TFLite builtin names)
EDGETPU_OPS = frozenset({
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "EXPAND_DIMS",
    "FULLY_CONNECTED", "HARD_SWISH", "L2_NORMALIZATION", "LOGISTIC", "LSTM", "MAXIMUM",
    "MAX_POOL_2D", "MEAN", "MINIMUM", "MUL", "PACK", "PAD", "PRELU", "QUANTIZE", "REDUCE_MAX",
    "REDUCE_MIN", "RELU", "RELU6", "RELU_N1_TO_1", "RESHAPE", "RESIZE_BILINEAR",
    "RESIZE_NEAREST_NEIGHBOR", "RSQRT", "SLICE", "SOFTMAX", "SPACE_TO_DEPTH", "SPLIT",
    "SQUARED_DIFFERENCE", "SQUEEZE", "STRIDED_SLICE", "SUB", "SUM", "TANH", "TRANSPOSE",
    "TRANSPOSE_CONV",
})
# ops that are expected on the CPU and cost little: I/O conversion and the SSD post-process
EXPECTED_CPU_OPS = frozenset({"DEQUANTIZE", "TFLite_Detection_PostProcess"})
MAPPED = "Mapped to Edge TPU"


@dataclass
class OpStatus:
    op: str
    count: int
    status: str

    @property
    def on_tpu(self) -> bool:
        return self.status.startswith(MAPPED)


@dataclass
class CompilerReport:
    """What the compiler did with a model (from its log)."""

    ops: list[OpStatus] = field(default_factory=list)
    subgraphs: int | None = None
    total_ops: int | None = None
    tpu_ops: int | None = None
    cpu_ops: int | None = None
    on_chip_bytes: float | None = None
    on_chip_remaining_bytes: float | None = None
    off_chip_bytes: float | None = None
    version: str = ""
    output_model: Path | None = None
    log_text: str = ""

    def counts(self) -> tuple[int, int]:
        """(ops on the TPU, ops on the CPU); the summary lines win over the table."""
        tpu = self.tpu_ops if self.tpu_ops is not None else sum(o.count for o in self.ops if o.on_tpu)
        cpu = self.cpu_ops if self.cpu_ops is not None else sum(o.count for o in self.ops if not o.on_tpu)
        return tpu, cpu

    @property
    def tpu_fraction(self) -> float:
        tpu, cpu = self.counts()
        return tpu / (tpu + cpu) if tpu + cpu else 0.0

    def cpu_reasons(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for o in self.ops:
            if not o.on_tpu:
                out.setdefault(o.status, []).append(f"{o.op} x{o.count}")
        return out

    def text(self) -> str:
        tpu, cpu = self.counts()
        lines = [f"Edge TPU compile{' (' + self.version + ')' if self.version else ''}: "
                 f"{tpu} ops on the TPU, {cpu} on the CPU ({100 * self.tpu_fraction:.1f}% mapped), "
                 f"{self.subgraphs if self.subgraphs is not None else '?'} TPU subgraph(s)"]
        if self.on_chip_bytes is not None:
            lines.append(f"  parameters: {_fmt_bytes(self.on_chip_bytes)} on-chip, "
                         f"{_fmt_bytes(self.off_chip_bytes or 0)} streamed off-chip")
        for reason, ops in self.cpu_reasons().items():
            lines.append(f"  CPU: {', '.join(ops)} — {reason}")
        if self.output_model:
            lines.append(f"  compiled model: {self.output_model}")
        return "\n".join(lines)


_UNITS = {"B": 1, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3}


def _bytes(text: str) -> float:
    m = re.fullmatch(r"\s*([\d.]+)\s*(B|KiB|MiB|GiB)\s*", text)
    if not m:
        raise ValueError(f"cannot read a size from {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def _fmt_bytes(n: float) -> str:
    for unit in ("GiB", "MiB", "KiB"):
        if n >= _UNITS[unit]:
            return f"{n / _UNITS[unit]:.2f}{unit}"
    return f"{n:.0f}B"


_SUMMARY = {
    "On-chip memory used for caching model parameters": ("on_chip_bytes", _bytes),
    "On-chip memory remaining for caching model parameters": ("on_chip_remaining_bytes", _bytes),
    "Off-chip memory used for streaming uncached model parameters": ("off_chip_bytes", _bytes),
    "Number of Edge TPU subgraphs": ("subgraphs", int),
    "Total number of operations": ("total_ops", int),
    "Number of operations that will run on Edge TPU": ("tpu_ops", int),
    "Number of operations that will run on CPU": ("cpu_ops", int),
}
_OP_ROW = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s+(\d+)\s+(\S.*?)\s*$")


def parse_compiler_log(text: str) -> CompilerReport:
    """Parse the compiler's stdout and/or its ``.log`` file (same format, concatenable)."""
    r = CompilerReport(log_text=text)
    in_table = False
    seen_rows: set[tuple[str, int, str]] = set()
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("Edge TPU Compiler version"):
            r.version = stripped.replace("Edge TPU Compiler ", "")
            continue
        if re.match(r"^Operator\s+Count\s+Status$", stripped):
            in_table = True
            continue
        key, _, value = stripped.partition(":")
        if key in _SUMMARY and value:
            attr, conv = _SUMMARY[key]
            setattr(r, attr, conv(value))
            in_table = False
            continue
        if in_table:
            m = _OP_ROW.match(line)
            if m:
                row = (m.group(1), int(m.group(2)), m.group(3))
                # stdout and the .log file repeat the table; count each row once
                if row not in seen_rows:
                    seen_rows.add(row)
                    r.ops.append(OpStatus(*row))
            elif stripped and not stripped.startswith("..."):
                in_table = False
    if not r.ops and r.tpu_ops is None:
        raise ValueError("edgetpu_compiler log has no 'Operator Count Status' table and no "
                         "operation counts; is this a compiler log?")
    return r


def compiler_path() -> str | None:
    return shutil.which(COMPILER)


def compile_model(model: Path, out_dir: Path | None = None, segments: int | None = None,
                  show_operations: bool = True, timeout_s: float = 600) -> CompilerReport:
    """Run ``edgetpu_compiler`` on ``model``; returns the parsed report.

    out_dir: where ``<stem>_edgetpu.tflite`` and its log go (default: next to the model).
    segments: split into N segments for pipelining (``--num_segments``).
    """
    exe = compiler_path()
    if exe is None:
        raise FileNotFoundError(INSTALL_HINT)
    out_dir = Path(out_dir) if out_dir else Path(model).parent
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [exe, "-o", str(out_dir)]
    if show_operations:
        cmd.append("-s")
    if segments:
        if segments < 1:
            raise ValueError(f"--edgetpu-segments must be >= 1, got {segments}")
        cmd.append(f"--num_segments={segments}")
    cmd.append(str(model))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(f"edgetpu_compiler did not finish in {timeout_s:.0f}s on {model}") from e
    text = proc.stdout + "\n" + proc.stderr
    log_file = out_dir / f"{Path(model).stem}_edgetpu.log"
    if log_file.exists():
        text += "\n" + log_file.read_text(errors="replace")
    if proc.returncode != 0:
        tail = "\n".join(text.strip().splitlines()[-5:])
        raise RuntimeError(f"edgetpu_compiler failed on {model} (exit {proc.returncode}):\n{tail}")
    report = parse_compiler_log(text)
    compiled = out_dir / f"{Path(model).stem}_edgetpu.tflite"
    report.output_model = compiled if compiled.exists() else None
    return report


@dataclass
class PrecheckIssue:
    op_index: int | None
    op: str
    reason: str

    def __str__(self) -> str:
        where = f"op {self.op_index} {self.op}" if self.op_index is not None else self.op
        return f"{where}: {self.reason}"


@dataclass
class PrecheckReport:
    model: str
    total_ops: int
    issues: list[PrecheckIssue] = field(default_factory=list)
    expected_cpu: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def predicted_tpu_fraction(self) -> float:
        bad = {i.op_index for i in self.issues if i.op_index is not None}
        counted = self.total_ops - len(self.expected_cpu)
        return (counted - len(bad)) / counted if counted > 0 else 0.0

    def text(self) -> str:
        head = (f"Edge TPU pre-check (offline, from the published op table) of {self.model}: "
                f"{'OK' if self.ok else f'{len(self.issues)} problem(s)'}, "
                f"~{100 * self.predicted_tpu_fraction:.0f}% of ops predicted on the TPU")
        lines = [head]
        lines += [f"  {i}" for i in self.issues[:30]]
        if len(self.issues) > 30:
            lines.append(f"  ... and {len(self.issues) - 30} more")
        if self.expected_cpu:
            lines.append(f"  expected on CPU (fine): {', '.join(sorted(set(self.expected_cpu)))}")
        return "\n".join(lines)


def _tensor_issue(f: TfliteFile, idx: int) -> str | None:
    t = f.tensors[idx]
    if t.dtype not in ("int8", "uint8", "int32"):  # int32: biases and shape operands
        return f"tensor '{t.name}' is {t.dtype} (the Edge TPU runs 8-bit quantized tensors only)"
    if any(d < 0 for d in t.shape_signature):
        return f"tensor '{t.name}' has a dynamic shape {list(t.shape_signature)} (static shapes only)"
    big = [d for d in t.shape if d > 1]
    # weights are 4-D ([out, kh, kw, in]) by nature; the limit is on activations
    if len(big) > 3 and f.constant(idx, dequantize=False) is None:
        return (f"tensor '{t.name}' shape {list(t.shape)} has more than 3 dimensions > 1 "
                "(only the 3 innermost may exceed 1)")
    return None


def precheck(model: Path | TfliteFile) -> PrecheckReport:
    """Predict what would fall back to the CPU, without the compiler."""
    f = model if isinstance(model, TfliteFile) else read_tflite(model)
    rep = PrecheckReport(str(f.path or "model"), len(f.operators))
    for i, op in enumerate(f.operators):
        if op.opcode in EXPECTED_CPU_OPS:
            rep.expected_cpu.append(op.opcode)
            continue
        if op.opcode == "QUANTIZE" and all(f.tensors[t].dtype == "float32" for t in op.inputs if t >= 0):
            rep.expected_cpu.append("QUANTIZE (float input)")
            continue
        if op.custom or op.opcode not in EDGETPU_OPS:
            rep.issues.append(PrecheckIssue(i, op.opcode, "not in the Edge TPU supported-op list"))
            continue
        for t in (*op.inputs, *op.outputs):
            if t < 0:
                continue
            why = _tensor_issue(f, t)
            if why:
                rep.issues.append(PrecheckIssue(i, op.opcode, why))
                break
    return rep


@dataclass
class EdgeTpuResult:
    precheck: PrecheckReport
    compiled: CompilerReport | None
    min_tpu_ops: float
    message: str = ""

    @property
    def passed(self) -> bool:
        if self.compiled is not None:
            return self.compiled.tpu_fraction >= self.min_tpu_ops
        return self.precheck.predicted_tpu_fraction >= self.min_tpu_ops

    def text(self) -> str:
        parts = [self.precheck.text()]
        if self.compiled is not None:
            parts.append(self.compiled.text())
        if self.message:
            parts.append(self.message)
        frac = self.compiled.tpu_fraction if self.compiled else self.precheck.predicted_tpu_fraction
        parts.append(f"  {'PASS' if self.passed else 'FAIL'}: {100 * frac:.1f}% of ops on the TPU "
                     f"(--min-tpu-ops {self.min_tpu_ops})")
        return "\n".join(parts)


def check_edgetpu(model: Path, out_dir: Path | None = None, segments: int | None = None,
                  min_tpu_ops: float = 0.95) -> EdgeTpuResult:
    """Pre-check always; compile when the compiler is installed. Gate on the TPU op share."""
    pre = precheck(model)
    if compiler_path() is None:
        return EdgeTpuResult(pre, None, min_tpu_ops, f"  compiler not run: {INSTALL_HINT}")
    return EdgeTpuResult(pre, compile_model(model, out_dir, segments), min_tpu_ops)

# ruff: noqa: E501 - the compiler log sample keeps its real line lengths
"""Edge TPU report and gate.

The real ``edgetpu_compiler`` cannot run here (x86 Debian package, no network). The log
parser is tested on text in the compiler's documented output format (coral.ai
docs/edgetpu/compiler: summary lines, then the "Operator Count Status" table), and the
invocation through a stand-in ``edgetpu_compiler`` script this test writes on PATH, which
checks its flags and prints such a log.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from convert import edgetpu
from convert.edgetpu import check_edgetpu, compile_model, parse_compiler_log, precheck

LOG = """Edge TPU Compiler version 16.0.384591198
Started a compilation timeout timer of 180 seconds.

Model compiled successfully in 3173 ms.

Input model: model.tflite
Input size: 7.37MiB
Output model: model_edgetpu.tflite
Output size: 8.34MiB
On-chip memory used for caching model parameters: 6.08MiB
On-chip memory remaining for caching model parameters: 0.00B
Off-chip memory used for streaming uncached model parameters: 1.70MiB
Number of Edge TPU subgraphs: 2
Total number of operations: 294
Operation log: model_edgetpu.log

Model successfully compiled but not all operations are supported by the Edge TPU.
Number of operations that will run on Edge TPU: 289
Number of operations that will run on CPU: 5

Operator                       Count      Status

RESIZE_NEAREST_NEIGHBOR        2          Mapped to Edge TPU
CONCATENATION                  1          Operation is otherwise supported, but not mapped due to some unspecified limitation
CONCATENATION                  17         Mapped to Edge TPU
CONV_2D                        62         Mapped to Edge TPU
TRANSPOSE                      1          More than one subgraph is not supported
QUANTIZE                       2          Operation is otherwise supported, but not mapped due to some unspecified limitation
CUSTOM                         1          Operation is working on an unsupported data type
Compilation child process completed within timeout period.
Compilation succeeded!
"""


def test_parse_documented_log():
    r = parse_compiler_log(LOG)
    assert r.version == "version 16.0.384591198"
    assert r.subgraphs == 2 and r.total_ops == 294
    assert r.counts() == (289, 5)
    assert abs(r.tpu_fraction - 289 / 294) < 1e-9
    assert r.on_chip_bytes == pytest.approx(6.08 * 1024 ** 2)
    assert r.off_chip_bytes == pytest.approx(1.70 * 1024 ** 2)
    assert r.on_chip_remaining_bytes == 0
    reasons = r.cpu_reasons()
    assert reasons["More than one subgraph is not supported"] == ["TRANSPOSE x1"]
    assert "CUSTOM x1" in reasons["Operation is working on an unsupported data type"]
    assert len(r.ops) == 7
    text = r.text()
    assert "289 ops on the TPU, 5 on the CPU" in text and "6.08MiB on-chip" in text


def test_parse_table_only_log_counts_from_rows():
    r = parse_compiler_log("Operator                       Count      Status\n\n"
                           "CONV_2D                        13         Mapped to Edge TPU\n"
                           "DEQUANTIZE                     1          Operation is working on an "
                           "unsupported data type\n")
    assert r.counts() == (13, 1)


def test_parse_rejects_non_log():
    with pytest.raises(ValueError, match="Operator Count Status"):
        parse_compiler_log("hello\nworld\n")


def _stand_in(bin_dir: Path, log: str, exit_code: int = 0) -> None:
    """An executable named edgetpu_compiler that records its argv and mimics the real one."""
    bin_dir.mkdir()
    script = bin_dir / "edgetpu_compiler"
    script.write_text(f"""#!{sys.executable}
import sys, pathlib
args = sys.argv[1:]
pathlib.Path({str(bin_dir / 'argv.txt')!r}).write_text(" ".join(args))
out = pathlib.Path(args[args.index("-o") + 1])
model = pathlib.Path(args[-1])
(out / (model.stem + "_edgetpu.tflite")).write_bytes(model.read_bytes())
(out / (model.stem + "_edgetpu.log")).write_text({log!r})
print({log!r})
sys.exit({exit_code})
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_compile_through_stand_in(tmp_path, monkeypatch):
    _stand_in(tmp_path / "bin", LOG)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    model = tmp_path / "model.tflite"
    model.write_bytes(b"x")
    out = tmp_path / "tpu"
    r = compile_model(model, out, segments=2)
    argv = (tmp_path / "bin" / "argv.txt").read_text().split()
    assert argv[:3] == ["-o", str(out), "-s"] and "--num_segments=2" in argv
    assert r.output_model == out / "model_edgetpu.tflite"
    assert r.counts() == (289, 5)  # stdout and .log repeat the table: rows counted once
    assert len(r.ops) == 7


def test_compiler_failure_is_reported(tmp_path, monkeypatch):
    _stand_in(tmp_path / "bin", "ERROR: Didn't find op for builtin opcode 'FOO'", exit_code=1)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    model = tmp_path / "model.tflite"
    model.write_bytes(b"x")
    with pytest.raises(RuntimeError, match="exit 1"):
        compile_model(model, tmp_path)


def test_without_compiler_says_how_to_install(monkeypatch):
    monkeypatch.setattr(edgetpu, "compiler_path", lambda: None)
    with pytest.raises(FileNotFoundError, match="apt-get install edgetpu-compiler"):
        compile_model(Path("model.tflite"))


@pytest.mark.slow
def test_precheck_float_unsupported_and_clean(tiny_tflite, tmp_path, monkeypatch):
    clean = precheck(tiny_tflite["ssd-int8"])
    assert clean.ok, clean.text()
    floaty = precheck(tiny_tflite["ssd-fp32"])
    assert not floaty.ok and "float32" in floaty.text()
    unsupported = precheck(_int8_model_with_elu(tmp_path))
    assert any(i.op == "ELU" and "supported-op list" in i.reason for i in unsupported.issues)
    # the gate without a compiler falls back to the pre-check's prediction
    monkeypatch.setattr(edgetpu, "compiler_path", lambda: None)
    gate = check_edgetpu(tiny_tflite["ssd-int8"], min_tpu_ops=0.95)
    assert gate.passed and "apt-get install edgetpu-compiler" in gate.text()
    assert not check_edgetpu(tiny_tflite["ssd-fp32"], min_tpu_ops=0.95).passed


def _int8_model_with_elu(tmp_path: Path) -> Path:
    import keras
    import numpy as np

    from convert.tflite import convert_keras

    inp = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inp)
    out = keras.layers.Activation("elu")(x)  # int8 in TFLite, absent from the Edge TPU table
    model = keras.Model(inp, out)
    calib = [np.random.default_rng(i).random((1, 16, 16, 3), np.float32) for i in range(4)]
    path = tmp_path / "elu.tflite"
    path.write_bytes(convert_keras(model, "int8", "float", calib))
    return path

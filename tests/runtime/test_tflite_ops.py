"""Reading a model's op list needs no TensorFlow: edge/core names ops from its own table."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from edge.core.tflite_ops import BUILTIN_OPS

CORE = Path(__file__).resolve().parents[2] / "edge" / "core"


def test_op_table_matches_the_installed_schema() -> None:
    schema = pytest.importorskip("ai_edge_litert.schema_py_generated")
    enum = {v: k for k, v in vars(schema.BuiltinOperator).items()
            if not k.startswith("_") and isinstance(v, int)}
    assert all(enum[code] == name for code, name in enumerate(BUILTIN_OPS) if code in enum)
    assert BUILTIN_OPS[3] == "CONV_2D" and BUILTIN_OPS[32] == "CUSTOM"


def test_no_module_in_core_imports_tensorflow() -> None:
    for py in CORE.glob("*.py"):
        for node in ast.walk(ast.parse(py.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] in ("tensorflow", "keras") for n in names), py
        assert "__import__(" not in py.read_text(), py  # no import by string either


def test_reading_a_model_names_its_ops_without_tensorflow(ssd_dir: Path) -> None:
    code = ("import sys; from edge.core.tflite_file import read_tflite; "
            f"f = read_tflite({str(ssd_dir / 'ssd_mobilenet_v1_coco_quant.tflite')!r}); "
            "print(f.op_histogram()['CONV_2D'], 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["34", "False"]

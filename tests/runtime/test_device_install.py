"""Issue 13 item 7: a device install (`pip install edge-detect`, no extras) has no TensorFlow,
Keras, matplotlib, pycocotools or tqdm. `edge train` / `convert` / `eval` must then say in
one line which extra to install and exit 1 without a traceback, and `edge profile` must
still time the variants, saying in one line that the mAP and the plot were skipped.

The test machine has all those packages installed, so their absence is simulated: each
command runs in a real subprocess (`python -c BOOT`) whose ``sys.meta_path`` starts with an
import blocker that raises ModuleNotFoundError for the chosen top-level packages, exactly
what Python raises when a package is not installed.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge.cli import COMMAND_NEEDS, LazyGroup
from edge.defaults import COCO_MODEL, SHAPES_MODEL
from edge.extras import EXTRA_OF_MODULE
from tests.evaluation.test_data_yaml import _ultralytics_layout

REPO = Path(__file__).resolve().parents[2]
DEVICE_LACKS = ("tensorflow", "keras", "tensorboard", "matplotlib", "pycocotools", "tqdm")

# argv[1]: comma-separated packages to make unimportable; the rest is the `edge` command line
BOOT = """
import importlib.abc, sys

BLOCKED = set(sys.argv[1].split(","))

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Blocker())
sys.argv = ["edge", *sys.argv[2:]]
from edge.cli import main
main()
"""


def edge(blocked: tuple[str, ...], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``edge *args`` in a subprocess where ``blocked`` cannot be imported."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, "-c", BOOT, ",".join(blocked), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def _one_line_error(res: subprocess.CompletedProcess[str], hint: str) -> None:
    out = res.stdout + res.stderr
    assert res.returncode == 1, out
    assert "Traceback" not in out, out
    assert [line for line in out.splitlines() if line.strip()] == [f"Error: {hint}"], out


def test_extras_table_names_the_extras_setup_py_declares() -> None:
    setup_src = (REPO / "setup.py").read_text()
    call = next(n for n in ast.walk(ast.parse(setup_src))
                if isinstance(n, ast.keyword) and n.arg == "extras_require")
    extras = ast.literal_eval(call.value)
    for module, extra in EXTRA_OF_MODULE.items():
        # keras has no line of its own: tensorflow-cpu depends on it
        # (distribution names spell '_' as '-': prometheus_client is prometheus-client)
        dist = "tensorflow" if module == "keras" else module.replace("_", "-")
        assert any(req.startswith(dist) for req in extras[extra]), (module, extra)
    assert all(m in EXTRA_OF_MODULE for needs in COMMAND_NEEDS.values() for m in needs)


@pytest.mark.parametrize("args", [
    ("train", "--help"),
    ("train", "--data", "datasets/door", "--out", "runs/door"),
    ("convert", "--help"),
    ("convert", "--model", "runs/door", "--quant", "int8", "--out", "door.tflite"),
])
def test_workstation_commands_name_the_train_extra(args: tuple[str, ...]) -> None:
    _one_line_error(edge(DEVICE_LACKS, *args), f"`edge {args[0]}` needs tensorflow, which this "
                    "install lacks: pip install 'edge-detect[train]'")


def test_eval_names_the_eval_extra() -> None:
    _one_line_error(edge(DEVICE_LACKS, "eval", "--model", str(COCO_MODEL), "--data", "x"),
                    "`edge eval` needs pycocotools, which this install lacks: "
                    "pip install 'edge-detect[eval]'")


def test_top_level_help_lists_what_is_missing() -> None:
    res = edge(DEVICE_LACKS, "--help")
    assert res.returncode == 0, res.stderr
    assert "train    `edge train` needs tensorflow" in res.stdout, res.stdout
    assert "run      Detect objects" in res.stdout, res.stdout


def test_profile_times_variants_on_a_device_install(tmp_path: Path, shared_data: Path) -> None:
    out = tmp_path / "prof"
    res = edge(DEVICE_LACKS, "profile", "--models", str(COCO_MODEL), "--data", str(shared_data / "raccoon"),
               "--max-images", "3", "--threads", "1", "--repeats", "1", "--out", str(out))
    text = res.stdout + res.stderr
    assert res.returncode == 0, text
    assert "Traceback" not in text, text
    assert ("mAP and plot skipped: pycocotools, matplotlib not installed "
            "(pip install 'edge-detect[eval]')") in res.stdout
    assert "(fastest variant (mAP not measured))" in res.stdout
    (row,) = json.loads((out / "profile.json").read_text())["variants"]
    assert row["ok"] and row["fps"] > 0 and row["latency_ms"]["invoke"]["p50"] > 0
    assert row["map50"] is None and row["map"] is None
    assert not (out / "profile.png").exists()
    assert f"wrote {out / 'profile.csv'}, {out / 'profile.json'}\n" in res.stdout


def test_profile_min_map_without_pycocotools_is_a_one_line_error(tmp_path: Path) -> None:
    _one_line_error(edge(DEVICE_LACKS, "profile", "--models", str(COCO_MODEL), "--data", str(tmp_path),
                         "--min-map", "0.5", "--out", str(tmp_path / "prof")),
                    "--min-map needs mAP, which needs pycocotools: pip install 'edge-detect[eval]'")


def test_eval_scores_without_matplotlib_and_skips_the_curves(tmp_path: Path) -> None:
    y = _ultralytics_layout(tmp_path / "shapes", "path: ../shapes\ntrain: images/train\nval: images/val\n"
                            "names: [square, circle, triangle]\n")
    out = tmp_path / "ev"
    res = edge(("matplotlib",), "eval", "--model", str(SHAPES_MODEL), "--data", str(y), "--out", str(out))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "mAP@0.5 1.0000" in res.stdout
    assert ("PR curves skipped: matplotlib not installed (pip install 'edge-detect[eval]')"
            in res.stdout)
    assert (out / "metrics.json").exists() and not (out / "pr_curves.png").exists()


def test_a_missing_extra_mid_run_is_one_line_and_a_bug_keeps_its_traceback() -> None:
    group = LazyGroup(name="edge")

    @group.command("plot")
    def plot() -> None:
        raise ModuleNotFoundError("No module named 'matplotlib'", name="matplotlib")

    @group.command("buggy")
    def buggy() -> None:
        raise ModuleNotFoundError("No module named 'edge.nowhere'", name="edge.nowhere")

    res = CliRunner().invoke(group, ["plot"])
    assert res.exit_code == 1
    assert res.output == ("Error: `edge plot` needs matplotlib, which this install lacks: "
                          "pip install 'edge-detect[eval]'\n")
    res = CliRunner().invoke(group, ["buggy"])
    assert isinstance(res.exception, ModuleNotFoundError)

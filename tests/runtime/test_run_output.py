"""Readable output: a stats table (JSON on request), file FPS labelled as unpaced, no C++
INFO lines or progress bars in a pipe, an example in every command's --help (#13)."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from edge.cli import cli

EDGE = [sys.executable, "-c", "from edge.cli import main; main()"]


def test_summary_is_a_short_table_and_file_fps_is_labelled():
    # a real pipe: what `edge run | tee` or a journal gets
    res = subprocess.run([*EDGE, "-q", "run", "--max-frames", "5"], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    err = res.stderr.splitlines()
    assert "summary {" not in res.stderr
    assert all(len(line) <= 120 for line in err), max(err, key=len)
    head = next(i for i, line in enumerate(err) if line.startswith("stage (ms)"))
    assert err[head].split() == ["stage", "(ms)", "p50", "p95", "p99", "mean"]
    assert any(line.split()[0] == "invoke" for line in err[head + 1:])
    assert "5 frames" in err[head - 1] and "unpaced" in err[head - 1]
    # the interpreter's own INFO line is not edge's output
    assert not any(line.startswith("INFO:") for line in err), res.stderr


def test_summary_json_on_request():
    res = CliRunner().invoke(cli, ["-q", "run", "--max-frames", "2", "--summary-json"])
    assert res.exit_code == 0, res.output
    line = next(ln for ln in res.stderr.splitlines() if ln.startswith("summary {"))
    s = json.loads(line.removeprefix("summary "))
    assert s["frames"] == 2 and s["live"] is False


def test_no_progress_bar_when_not_a_terminal(capsys):
    from edge.evaluation.evaluate import _progress

    items = [1, 2, 3]
    assert _progress(items, 3, True, "eval") is items  # stderr is captured: not a TTY


@pytest.mark.parametrize("command", ["eval", "convert", "inspect", "doctor", "run"])
def test_help_has_an_example(command):
    res = CliRunner().invoke(cli, [command, "--help"])
    if "this install lacks" in res.output or "unavailable here" in res.output:
        pytest.skip(f"{command} needs the train extra")
    assert res.exit_code == 0, res.output
    assert "Examples:" in res.output, res.output
    assert f"edge {command} " in res.output.split("Examples:", 1)[1], res.output

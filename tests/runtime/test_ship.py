"""Shipping: firmware configs validate, the unit passes systemd-analyze, bundles install."""

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from edge.bundle import build_wheel, make_bundle
from edge.config import load_config

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "firmware_configs").glob("*.yaml"))


def test_there_is_a_config_per_box():
    names = {p.stem for p in CONFIGS}
    assert {"pi4-cpu", "pi5-cpu", "pi5-coral", "coral-devboard"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_firmware_config_validates(path):
    cfg = load_config(path)
    assert cfg.model.suffix == ".tflite" and cfg.device


def test_systemd_unit_verifies(tmp_path):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.fail("systemd-analyze missing: apt-get install systemd (scripts/test.sh does)")
    unit = (REPO / "firmware_configs" / "edge.service").read_text()
    assert "Restart=always" in unit and "WatchdogSec=" in unit and "Type=notify" in unit
    assert "User=edge" in unit and "video" in unit and "gpio" in unit
    # verify checks that ExecStart exists: point it at a real executable
    (tmp_path / "edge.service").write_text(unit.replace("/opt/edge/venv/bin/edge", shutil.which("true")))
    res = subprocess.run([tool, "verify", str(tmp_path / "edge.service")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.mark.slow
def test_bundle_installs_into_a_fresh_venv_and_runs_idempotently(tmp_path, wheel):
    from edge.defaults import shapes_paths

    model, clip = shapes_paths()
    cfg = tmp_path / "box.yaml"
    cfg.write_text(f"device: box\nmodel: {model}\nsource: 0\nthreads: 2\n")
    out = tmp_path / "box.tar.gz"
    names = make_bundle(cfg, model, out, wheel=wheel)
    assert "box/install.sh" in names and any(n.endswith(".whl") for n in names)
    with tarfile.open(out) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    root = tmp_path / "unpacked" / "box"
    env = dict(os.environ, PREFIX=str(tmp_path / "opt"), ETC_DIR=str(tmp_path / "etc"),
               UNIT_DIR=str(tmp_path / "units"), NO_SYSTEMD="1", PYTHON=sys.executable)
    dry = subprocess.run(["bash", str(root / "install.sh")], env=dict(env, DRY_RUN="1"),
                         capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert "would run:" in dry.stdout and not (tmp_path / "opt").exists()
    first = subprocess.run(["bash", str(root / "install.sh")], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stdout + first.stderr
    installed = load_config(tmp_path / "etc" / "config.yaml")
    assert installed.model == tmp_path / "etc" / model.name and installed.model.is_file()
    unit = (tmp_path / "units" / "edge.service").read_text()
    assert f"{tmp_path / 'opt' / 'venv'}/bin/edge run --config {tmp_path / 'etc'}/config.yaml" in unit
    # the venv's own edge runs the installed config on the sample clip, to its end
    edge_bin = tmp_path / "opt" / "venv" / "bin" / "edge"
    res = subprocess.run([str(edge_bin), "-q", "run", "--config", str(tmp_path / "etc" / "config.yaml"),
                          "--source", str(clip), "--jsonl", "-"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    records = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(records) == 90 and sum(bool(r["detections"]) for r in records) >= 45
    snapshot = {p: p.stat().st_mtime_ns for p in (tmp_path / "etc").iterdir()}
    second = subprocess.run(["bash", str(root / "install.sh")], env=env, capture_output=True, text=True)
    assert second.returncode == 0
    assert "nothing to do: already installed" in second.stdout and "wrote" not in second.stdout
    assert snapshot == {p: p.stat().st_mtime_ns for p in (tmp_path / "etc").iterdir()}


def test_bundle_refuses_bad_input(tmp_path, ssd_dir, wheel):
    cfg = tmp_path / "box.yaml"
    cfg.write_text(f"model: {ssd_dir / 'cat.bmp'}\nsource: 0\n")
    with pytest.raises(ValueError, match="not a TFLite model"):
        make_bundle(cfg, ssd_dir / "cat.bmp", tmp_path / "b.tar.gz", wheel=wheel)
    with pytest.raises(FileNotFoundError, match="output folder does not exist"):
        make_bundle(cfg, ssd_dir / "ssd_mobilenet_v1_coco_quant.tflite", tmp_path / "no" / "b.tar.gz",
                    wheel=wheel)
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: m.tflite\nsorce: 0\n")
    with pytest.raises(ValueError, match="sorce: unknown key"):
        make_bundle(bad, ssd_dir / "ssd_mobilenet_v1_coco_quant.tflite", tmp_path / "b.tar.gz", wheel=wheel)

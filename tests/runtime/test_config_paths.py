"""Paths in a device config follow the config file, `source:` included (#13)."""

import shutil

from click.testing import CliRunner

from edge.cli import cli
from edge.config import load_config

MODEL = "ssd_mobilenet_v1_coco_quant.tflite"


def make_box(tmp_path, ssd_dir, source: str):
    box = tmp_path / "box"
    (box / "media").mkdir(parents=True)
    shutil.copy(ssd_dir / MODEL, box / MODEL)
    shutil.copy(ssd_dir / "labelmap.txt", box / "labelmap.txt")
    shutil.copy(ssd_dir / "cat.bmp", box / "media" / "cat.bmp")
    cfg = box / "box.yaml"
    cfg.write_text(f"model: {MODEL}\nlabels: labelmap.txt\nsource: {source}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return cfg, elsewhere


def test_relative_source_follows_the_config_file(tmp_path, ssd_dir, monkeypatch):
    cfg, elsewhere = make_box(tmp_path, ssd_dir, "media/cat.bmp")
    monkeypatch.chdir(elsewhere)  # started from another folder, as systemd does
    assert load_config(cfg).source == str(cfg.parent / "media" / "cat.bmp")
    res = CliRunner().invoke(cli, ["-q", "run", "--config", str(cfg), "--max-frames", "1",
                                   "--jsonl", "-"])
    assert res.exit_code == 0, res.output
    assert '"cat"' in res.output


def test_cameras_and_urls_are_not_paths(tmp_path):
    cfg = tmp_path / "c.yaml"
    for src in ("0", "picamera2:1", "rtsp://cam.local/stream", "/dev/video0"):
        cfg.write_text(f"model: m.tflite\nsource: {src}\n")
        got = load_config(cfg).source
        assert str(got) == src, (src, got)


def test_missing_local_file_says_no_such_file(tmp_path, ssd_dir, monkeypatch):
    cfg, elsewhere = make_box(tmp_path, ssd_dir, "media/gone.mp4")
    monkeypatch.chdir(elsewhere)
    res = CliRunner().invoke(cli, ["-q", "run", "--config", str(cfg), "--max-frames", "1"])
    assert res.exit_code == 1 and "Traceback" not in res.output
    line = res.output.strip().splitlines()[-1]
    assert "no such file" in line and str(cfg.parent / "media" / "gone.mp4") in line, line
    assert "unknown source" not in res.output
    res = CliRunner().invoke(cli, ["-q", "run", "--model", str(ssd_dir / MODEL),
                                   "--source", "clip.mp4", "--max-frames", "1"])
    assert res.exit_code == 1 and "source clip.mp4: no such file" in res.output, res.output

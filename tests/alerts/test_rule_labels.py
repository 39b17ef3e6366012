"""A rule naming a class the model cannot produce is refused by run, bundle and doctor (#13)."""

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge.cli import cli

MODEL = "ssd_mobilenet_v1_coco_quant.tflite"


@pytest.fixture
def raccoon_model(tmp_path: Path, ssd_dir: Path) -> tuple[Path, Path]:
    """The real COCO model with a one-class labels file: a raccoon-only model to the runtime."""
    model = tmp_path / MODEL
    shutil.copy(ssd_dir / MODEL, model)
    labels = tmp_path / "raccoon.txt"
    labels.write_text("raccoon\n" + "???\n" * 89)  # one real class of the model's 90
    return model, labels


def write_config(tmp_path: Path, model: Path, labels: Path, source: Path, rule_label: str) -> Path:
    cfg = tmp_path / "box.yaml"
    cfg.write_text(f"device: t\nmodel: {model}\nlabels: {labels}\nsource: {source}\n"
                   f"event_log: {{path: {tmp_path / 'events.jsonl'}}}\n"
                   f"rules:\n  - {{name: door, labels: [{rule_label}], min_frames: 1}}\n")
    return cfg


def assert_names_rule(res, wanted_hint: str | None = None) -> None:
    assert res.exit_code != 0, res.output
    assert "Traceback" not in res.output and res.exception is None or \
        isinstance(res.exception, SystemExit)
    assert "rule 'door'" in res.output and "'person'" in res.output
    assert "raccoon" in res.output  # the labels the model has
    if wanted_hint:
        assert wanted_hint in res.output


def test_run_refuses_a_rule_the_model_cannot_fire(tmp_path, raccoon_model, ssd_dir):
    model, labels = raccoon_model
    cfg = write_config(tmp_path, model, labels, ssd_dir / "cat.bmp", "person")
    res = CliRunner().invoke(cli, ["-q", "run", "--config", str(cfg), "--max-frames", "1"])
    assert_names_rule(res)
    assert not (tmp_path / "events.jsonl").exists()  # failed before any sink opened


def test_run_hints_the_close_label(tmp_path, raccoon_model, ssd_dir):
    model, labels = raccoon_model
    cfg = write_config(tmp_path, model, labels, ssd_dir / "cat.bmp", "racoon")
    res = CliRunner().invoke(cli, ["-q", "run", "--config", str(cfg), "--max-frames", "1"])
    assert res.exit_code != 0 and "did you mean 'raccoon'?" in res.output, res.output


def test_run_accepts_a_rule_whose_class_exists(tmp_path, ssd_dir):
    cfg = write_config(tmp_path, ssd_dir / MODEL, ssd_dir / "labelmap.txt", ssd_dir / "cat.bmp",
                       "cat")
    res = CliRunner().invoke(cli, ["-q", "run", "--config", str(cfg), "--max-frames", "1"])
    assert res.exit_code == 0, res.output


def test_bundle_refuses_it(tmp_path, raccoon_model, ssd_dir):
    model, labels = raccoon_model
    cfg = write_config(tmp_path, model, labels, ssd_dir / "cat.bmp", "person")
    res = CliRunner().invoke(cli, ["bundle", "--config", str(cfg), "--model", str(model),
                                   "--out", str(tmp_path / "b.tar.gz"), "--dry-run"])
    assert_names_rule(res)
    from edge.bundle import make_bundle

    with pytest.raises(ValueError, match="rule 'door': label 'person'"):
        make_bundle(cfg, model, tmp_path / "b.tar.gz", wheel=tmp_path / "unused.whl")
    assert not (tmp_path / "b.tar.gz").exists()


def test_doctor_fails_it_with_a_fix(tmp_path, raccoon_model, ssd_dir):
    model, labels = raccoon_model
    cfg = write_config(tmp_path, model, labels, ssd_dir / "cat.bmp", "person")
    res = CliRunner().invoke(cli, ["-q", "doctor", "--config", str(cfg)])
    assert_names_rule(res)
    lines = res.output.splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith("[FAIL] alert rules"))
    assert lines[i + 1].strip().startswith("fix: ")

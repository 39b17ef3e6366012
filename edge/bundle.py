"""``edge bundle``: one tarball a box can install from (model, labels, config, unit,
install.sh and the edge wheel)."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import tarfile
import tempfile
from importlib import resources
from pathlib import Path

import click
import yaml

log = logging.getLogger(__name__)


def _asset(name: str) -> bytes:
    return resources.files("edge.assets").joinpath(name).read_bytes()


def build_wheel(out_dir: Path) -> Path:
    """A wheel of this edge, built from its source tree (the box may be offline from us)."""
    root = Path(__file__).resolve().parents[1]
    if not (root / "setup.py").exists():
        raise RuntimeError(f"edge bundle needs the edge source tree (setup.py) next to {root}/edge")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out_dir), str(root)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"building the edge wheel failed: {res.stderr.strip()[-500:]}")
    wheels = sorted(out_dir.glob("edge_detect-*.whl"))
    if not wheels:
        raise RuntimeError(f"pip wheel wrote no edge wheel into {out_dir}")
    return wheels[-1]


def check_rules(cfg, model: Path, labels: Path | None) -> None:
    """ValueError when a rule of ``cfg`` (an EdgeConfig) names a class ``model`` (with
    ``labels``) cannot produce: the shipped box would never raise that alert."""
    from edge.alerts.labels import check_rule_labels, model_labels

    check_rule_labels(cfg.alerts.rules, model_labels(model, labels), model)


def make_bundle(config: Path, model: Path, out: Path, labels: Path | None = None,
                wheel: Path | None = None) -> list[str]:
    """Write ``out`` (.tar.gz); returns its member names. The config inside names the model
    and labels relative to itself, so it works wherever install.sh puts the three."""
    from edge.config import load_config

    cfg = load_config(config)  # a bundle never ships a config that does not validate
    for p, what in ((model, "model"), (labels, "labels")):
        if p is not None and not Path(p).is_file():
            raise FileNotFoundError(f"{what} file not found: {p}")
    if not out.parent.exists():
        raise FileNotFoundError(f"output folder does not exist: {out.parent}")
    from edge.core.tflite_file import read_tflite

    read_tflite(model)  # refuse to ship a file the box cannot load
    labels = labels or cfg.labels
    check_rules(cfg, model, labels)
    data = yaml.safe_load(Path(config).read_text())
    data["model"] = model.name
    if labels is not None:
        data["labels"] = Path(labels).name
    top = out.name.removesuffix(".tar.gz").removesuffix(".tgz")
    with tempfile.TemporaryDirectory() as tmp:
        whl = wheel or build_wheel(Path(tmp))
        members: list[tuple[str, bytes, int]] = [
            ("install.sh", _asset("install.sh"), 0o755),
            ("edge.service", _asset("edge.service"), 0o644),
            ("payload/config.yaml", yaml.safe_dump(data, sort_keys=False).encode(), 0o644),
            (f"payload/{model.name}", model.read_bytes(), 0o644),
            (whl.name, whl.read_bytes(), 0o644),
        ]
        if labels is not None:
            members.append((f"payload/{Path(labels).name}", Path(labels).read_bytes(), 0o644))
        with tarfile.open(out, "w:gz") as tar:
            for name, blob, mode in members:
                info = tarfile.TarInfo(f"{top}/{name}")
                info.size, info.mode, info.mtime = len(blob), mode, 0
                tar.addfile(info, io.BytesIO(blob))
    return [f"{top}/{m[0]}" for m in members]


@click.command("bundle")
@click.option("--config", "config_path", type=click.Path(path_type=Path), required=True,
              help="Device YAML (e.g. firmware_configs/pi5-coral.yaml).")
@click.option("--model", type=click.Path(path_type=Path), required=True, help=".tflite model to ship.")
@click.option("--labels", type=click.Path(path_type=Path), help="Labels file (default: the config's).")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output .tar.gz.")
@click.option("--dry-run", is_flag=True, help="Print what would be bundled; write nothing.")
def bundle_command(config_path: Path, model: Path, labels: Path | None, out: Path, dry_run: bool) -> None:
    """Pack model, labels, config, systemd unit and install.sh into one tarball.

    \b
    On the box:
      tar xzf box.tar.gz && sudo ./box/install.sh     # DRY_RUN=1 to preview
    """
    try:
        if dry_run:
            from edge.config import load_config

            cfg = load_config(config_path)
            check_rules(cfg, model, labels or cfg.labels)
            click.echo(f"would write {out} with: install.sh, edge.service, edge wheel, "
                       f"payload/config.yaml, payload/{model.name}"
                       + (f", payload/{labels.name}" if labels else ""))
            return
        names = make_bundle(config_path, model, out, labels)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        raise click.ClickException(str(e)) from e
    size = out.stat().st_size / 2**20
    click.echo(f"wrote {out} ({size:.1f} MB):\n  " + "\n  ".join(names))
    click.echo(f"on the box: tar xzf {out.name} && sudo ./{names[0].split('/')[0]}/install.sh")

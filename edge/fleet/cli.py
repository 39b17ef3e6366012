"""``edge package`` (make a model release) and ``edge model`` (install, list, roll back,
activate, verify, keygen on the box). Each command parses, calls one library function and
turns domain errors into one-line messages."""

from __future__ import annotations

import datetime
import json
import tempfile
from pathlib import Path

import click

from edge.fleet.package import DEFAULT_SAMPLE

USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, RuntimeError, TimeoutError)

PACKAGE_EXAMPLES = """
\b
Examples:
  edge package --model runs/door/door_int8.tflite --data datasets/door --version 1.3.0 \\
      --out door-1.3.0.edgepkg
  edge package --model door_int8.tflite --edgetpu-model door_int8_edgetpu.tflite \\
      --data datasets/door/data.yaml --split val --sample 32 --version 1.3.0 \\
      --sign-key fleet-key.pem --out door-1.3.0.edgepkg
"""


@click.command("package", epilog=PACKAGE_EXAMPLES)
@click.option("--model", required=True, type=click.Path(path_type=Path), help="The .tflite model.")
@click.option("--edgetpu-model", type=click.Path(path_type=Path),
              help="Its Edge TPU twin (edgetpu_compiler output); boxes with delegate "
              "edgetpu run it.")
@click.option("--labels", type=click.Path(path_type=Path),
              help="Labels file (default: the model's embedded labels).")
@click.option("--data", required=True, type=click.Path(path_type=Path),
              help="Labelled dataset folder or a YOLO data.yaml; the sample comes from it.")
@click.option("--split", default=None, help="Split to sample (default: val, else valid/test).")
@click.option("--format", "fmt", type=click.Choice(["yolo", "voc", "coco"]), default=None,
              help="Dataset format (default: detected).")
@click.option("--sample", type=click.IntRange(1, 1000), default=DEFAULT_SAMPLE, show_default=True,
              help="Labelled images in the package's validation sample.")
@click.option("--version", "version", required=True, help="Release version, semver (1.3.0).")
@click.option("--name", default=None, help="Model name (default: from the file name).")
@click.option("--sign-key", type=click.Path(path_type=Path),
              help="ed25519 private key (edge model keygen): writes manifest.sig.")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="Package file to write (.edgepkg, a gzip tar).")
def package_command(model: Path, edgetpu_model: Path | None, labels: Path | None, data: Path,
                    split: str | None, fmt: str | None, sample: int, version: str,
                    name: str | None, sign_key: Path | None, out: Path) -> None:
    """Write a versioned model package a box can verify and install.

    It holds the model (and Edge TPU twin), labels, model contract, a labelled sample of
    the validation split, the mAP measured on it here through the device runtime, the
    conversion parity figures, and manifest.json with the sha256 of every file."""
    from edge.fleet.package import make_package

    try:
        result = make_package(model, data, version, out, edgetpu_model=edgetpu_model,
                              labels=labels, split=split, sample=sample, name=name,
                              sign_key=sign_key, fmt=fmt)
    except USER_ERRORS as e:
        raise click.ClickException(str(e)) from e
    click.echo(result.text())


CONFIG = click.option("--config", "config_path", required=True, type=click.Path(path_type=Path),
                      help="Device YAML; its fleet: section names the store and the gates.")
AS_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


def _store(config_path: Path):
    from edge.config import load_config
    from edge.fleet.store import store_for

    cfg = load_config(config_path)
    return cfg, store_for(cfg)


@click.group("model")
def model_group() -> None:
    """Installed model versions on this box: install, list, rollback, activate.

    \b
    Examples:
      edge model install door-1.3.0.edgepkg --config /etc/edge/config.yaml
      edge model install https://files.example/door-1.3.0.edgepkg --config box.yaml
      edge model list --config box.yaml
      edge model rollback --config box.yaml --reason "misses people at night"
      edge model keygen --out fleet-key.pem
    """


@model_group.command("install")
@click.argument("source")
@CONFIG
@click.option("--no-activate", is_flag=True, help="Install and keep it, but do not switch to it.")
@click.option("--public-key", type=click.Path(path_type=Path),
              help="Require a signature by this ed25519 public key (default: fleet.public_key).")
@AS_JSON
def install_command(source: str, config_path: Path, no_activate: bool, public_key: Path | None,
                    as_json: bool) -> None:
    """Install SOURCE (a package file or an http(s):// URL) after its gates pass.

    Gates, in order: integrity (sha256, signature), load (configured delegate), rules
    (every alert label exists), accuracy (bundled sample on this box vs the package's
    mAP@0.5), latency (median invoke vs latency_budget_ms). Exit status 1 when refused;
    the current model is then untouched."""
    from edge.fleet.install import download, install_package

    try:
        cfg, store = _store(config_path)
        with tempfile.TemporaryDirectory(prefix="edge-download-") as tmp:
            path = (download(source, Path(tmp), cfg.fleet.download_timeout_s)
                    if "://" in source else Path(source))
            report = install_package(path, store, cfg, activate=not no_activate,
                                     public_key=public_key)
    except USER_ERRORS as e:
        raise click.ClickException(str(e)) from e
    if as_json:
        click.echo(json.dumps(report.to_dict()))
    elif report.ok:
        click.echo(report.reason)
    if not report.ok:
        raise click.ClickException(f"refused: {report.reason}")


def _when(t: float | None) -> str:
    if t is None:
        return "-"
    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def list_rows(store) -> list[dict]:
    """One dict per installed version, oldest first: version, name, state, installed (unix
    time), figures at install on this box and in the package."""
    installs = {r["version"]: r for r in store.history() if r.get("event") == "install"}
    times = store.install_times()
    cur, prev = store.current(), store.previous()
    rows = []
    for v in store.versions():
        m = store.manifest(v)
        rec = installs.get(v, {})
        rows.append({"version": v, "name": m.name,
                     "state": "current" if v == cur else "previous" if v == prev else "",
                     "installed": times[v], "map50": rec.get("map50"),
                     "map50_package": m.figures.map50, "invoke_ms": rec.get("invoke_ms"),
                     "model": m.model, "signed": (store.version_dir(v) / "manifest.sig").is_file()})
    return rows


def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


@model_group.command("list")
@CONFIG
@AS_JSON
def list_command(config_path: Path, as_json: bool) -> None:
    """Installed versions, oldest first: which is current and previous, when each was
    installed, and its mAP@0.5 on this box vs in its package."""
    try:
        _, store = _store(config_path)
        rows = list_rows(store)
    except USER_ERRORS as e:
        raise click.ClickException(str(e)) from e
    if as_json:
        click.echo(json.dumps({"store": str(store.root), "versions": rows}))
        return
    if not rows:
        click.echo(f"no model installed in {store.root}")
        return
    click.echo(f"{'VERSION':<14} {'NAME':<12} {'STATE':<9} {'INSTALLED':<21} {'mAP50 box':>9} "
               f"{'package':>8} {'invoke ms':>9}")
    for r in rows:
        click.echo(f"{r['version']:<14} {r['name']:<12} {r['state']:<9} {_when(r['installed']):<21} "
                   f"{_fmt(r['map50'], '.4f'):>9} {_fmt(r['map50_package'], '.4f'):>8} "
                   f"{_fmt(r['invoke_ms'], '.1f'):>9}")


@model_group.command("rollback")
@CONFIG
@click.option("--reason", default="requested by hand (edge model rollback)",
              help="Why; kept in the store's history.jsonl.")
def rollback_command(config_path: Path, reason: str) -> None:
    """Switch back to the previous version (atomic swap). A running `edge run` picks the
    change up through its supervisor or a restart."""
    try:
        _, store = _store(config_path)
        with store.lock():
            bad = store.current()
            target = store.rollback(reason)
    except USER_ERRORS as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"rolled back from {bad} to {target}")


@model_group.command("activate")
@click.argument("version")
@CONFIG
def activate_command(version: str, config_path: Path) -> None:
    """Switch to VERSION, an installed one (its gates passed when it was installed)."""
    try:
        _, store = _store(config_path)
        with store.lock():
            old = store.activate(version)
    except USER_ERRORS as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"{version} is current" + (f" (was {old})" if old else ""))


@model_group.command("verify")
@click.argument("package", type=click.Path(path_type=Path))
@click.option("--public-key", type=click.Path(path_type=Path),
              help="Also check the signature against this ed25519 public key.")
def verify_command(package: Path, public_key: Path | None) -> None:
    """Check a package's hashes (and signature) without installing it."""
    from edge.fleet.install import Refused, unpack, verify_package

    try:
        with tempfile.TemporaryDirectory(prefix="edge-verify-") as tmp:
            unpack(package, Path(tmp))
            m = verify_package(Path(tmp), public_key)
    except Refused as r:
        raise click.ClickException(f"{package}: {r.reason}") from r
    except USER_ERRORS as e:
        raise click.ClickException(str(e)) from e
    signed = "signature verified" if public_key else "signature not checked"
    click.echo(f"{package}: {m.name} {m.version}, {len(m.files)} files match manifest.json "
               f"({signed}); mAP@0.5 {m.figures.map50:.4f} on {m.figures.images} sample images")


@model_group.command("keygen")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="Private key file to write (PEM); the public key goes next to it "
              "(key.pem -> key.pub.pem).")
@click.option("--force", is_flag=True, help="Overwrite existing key files.")
def keygen_command(out: Path, force: bool) -> None:
    """Make an ed25519 key pair for signing packages. Keep the private key on the
    packaging machine; give boxes the public key (fleet.public_key)."""
    from edge.fleet.signing import generate_keypair

    try:
        private, public = generate_keypair(out, overwrite=force)
    except USER_ERRORS as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"wrote {private} (private: keep it secret) and {public} (public: "
               "fleet.public_key on the boxes)")

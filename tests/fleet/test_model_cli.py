"""``edge package`` and ``edge model ...`` through the real CLI (in-process, click's
CliRunner): exit codes, one-line errors without tracebacks, and installs from a package
served over HTTP by Python's http.server on loopback."""

from __future__ import annotations

import functools
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from edge.cli import cli
from edge.fleet.store import store_for

SQUARE_RULE = [{"name": "squares", "labels": ["square"]}]


def edge(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_line_error(res: Result, *words: str) -> str:
    assert res.exit_code == 1, (res.exit_code, res.output)
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert "Traceback" not in res.output
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1, res.stderr
    for w in words:
        assert w in errors[0], errors[0]
    return errors[0]


@pytest.fixture
def served(packages, tmp_path: Path) -> Iterator[str]:
    """http://127.0.0.1:<port>/ serving the session's package files."""
    root = tmp_path / "www"
    root.mkdir()
    for r in packages.values():
        shutil.copy(r.out, root / r.out.name)

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep the test output readable
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_package_command(shapes_model: Path, shapes_data: Path, keys, tmp_path: Path) -> None:
    out = tmp_path / "door-1.3.0.edgepkg"
    res = edge("package", "--model", shapes_model, "--data", shapes_data / "data.yaml",
               "--split", "val", "--sample", 3, "--version", "1.3.0", "--name", "door",
               "--sign-key", keys["private"], "--out", out)
    assert res.exit_code == 0, res.output
    assert out.is_file() and f"wrote {out}" in res.stdout and "signed" in res.stdout
    assert "mAP@0.5" in res.stdout
    res = edge("model", "verify", out, "--public-key", keys["public"])
    assert res.exit_code == 0 and "door 1.3.0" in res.stdout and "signature verified" in res.stdout
    one_line_error(edge("model", "verify", out, "--public-key", keys["other_public"]),
                   "does not verify")
    assert "Examples:" in edge("package", "--help").stdout


@pytest.mark.parametrize("change, words", [
    ({"--version": "1.3"}, ["version '1.3'", "semver"]),
    ({"--model": "missing.tflite"}, ["--model", "not found"]),
    ({"--model": "labels.txt"}, ["expected a .tflite file"]),
    ({"--split": "test"}, ["no YOLO split 'test'"]),
    ({"--sign-key": "nokey.pem"}, ["--sign-key", "not found"]),
])
def test_package_bad_input(change: dict, words: list[str], shapes_model: Path, shapes_data: Path,
                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "labels.txt").write_text("square\n")
    opts = {"--model": shapes_model, "--data": shapes_data, "--version": "1.0.0",
            "--out": tmp_path / "p.edgepkg", **change}
    res = edge("package", *[x for kv in opts.items() for x in kv])
    one_line_error(res, *words)
    assert not (tmp_path / "p.edgepkg").exists()


def test_package_without_labelled_images(shapes_model: Path, shapes_data: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(shapes_data, data)
    for txt in (data / "val" / "labels").glob("*.txt"):
        txt.unlink()
    res = edge("package", "--model", shapes_model, "--data", data, "--version", "1.0.0",
               "--out", tmp_path / "p.edgepkg")
    one_line_error(res, "no labelled image")


def test_keygen(tmp_path: Path) -> None:
    key = tmp_path / "fleet.pem"
    res = edge("model", "keygen", "--out", key)
    assert res.exit_code == 0 and key.is_file() and (tmp_path / "fleet.pub.pem").is_file()
    assert (key.stat().st_mode & 0o777) == 0o600
    assert b"BEGIN PRIVATE KEY" in key.read_bytes()
    assert b"BEGIN PUBLIC KEY" in (tmp_path / "fleet.pub.pem").read_bytes()
    one_line_error(edge("model", "keygen", "--out", key), "exists")
    old = key.read_bytes()
    assert edge("model", "keygen", "--out", key, "--force").exit_code == 0
    assert key.read_bytes() != old


def test_install_list_rollback_activate(make_config, packages, tmp_path: Path) -> None:
    cfg = make_config(rules=SQUARE_RULE)
    config = tmp_path / "box.yaml"
    res = edge("model", "list", "--config", config)
    assert res.exit_code == 0 and "no model installed" in res.stdout

    res = edge("model", "install", packages["1.0.0"].out, "--config", config)
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("shapes 1.0.0 installed and activated: mAP@0.5")
    res = edge("model", "install", packages["1.1.0"].out, "--config", config, "--json")
    assert res.exit_code == 0
    report = json.loads(res.stdout)
    assert (report["status"], report["version"], report["previous"]) == ("installed", "1.1.0", "1.0.0")
    res = edge("model", "install", packages["1.1.0"].out, "--config", config)
    assert res.exit_code == 0 and "already the current version" in res.stdout

    res = edge("model", "list", "--config", config)
    assert res.exit_code == 0
    lines = res.stdout.splitlines()
    assert lines[0].split()[:3] == ["VERSION", "NAME", "STATE"]
    assert lines[1].split()[:3] == ["1.0.0", "shapes", "previous"]
    assert lines[2].split()[:3] == ["1.1.0", "shapes", "current"]
    listed = json.loads(edge("model", "list", "--config", config, "--json").stdout)
    assert [v["version"] for v in listed["versions"]] == ["1.0.0", "1.1.0"]
    assert listed["versions"][1]["map50"] > 0.9 and listed["store"] == str(cfg.fleet.store)

    res = edge("model", "rollback", "--config", config, "--reason", "misses squares at night")
    assert res.exit_code == 0 and res.stdout.strip() == "rolled back from 1.1.0 to 1.0.0"
    store = store_for(cfg)
    assert store.current() == "1.0.0" and store.history()[-1]["reason"] == "misses squares at night"
    one_line_error(edge("model", "rollback", "--config", config), "no previous version")

    res = edge("model", "activate", "1.1.0", "--config", config)
    assert res.exit_code == 0 and "1.1.0 is current (was 1.0.0)" in res.stdout
    one_line_error(edge("model", "activate", "9.0.0", "--config", config), "9.0.0", "not installed")
    one_line_error(edge("model", "activate", "latest", "--config", config), "semver")


def test_refused_install_exits_1_with_the_reason(make_config, packages, tmp_path: Path) -> None:
    make_config(rules=[{"name": "people", "labels": ["person"]}])
    res = edge("model", "install", packages["1.0.0"].out, "--config", tmp_path / "box.yaml")
    one_line_error(res, "refused: rules:", "'person'")
    res = edge("model", "install", packages["1.0.0"].out, "--config", tmp_path / "box.yaml", "--json")
    assert res.exit_code == 1 and json.loads(res.stdout)["gate"] == "rules"
    one_line_error(edge("model", "install", tmp_path / "none.edgepkg", "--config",
                        tmp_path / "box.yaml"), "refused: integrity", "not found")
    one_line_error(edge("model", "list", "--config", tmp_path / "missing.yaml"), "missing.yaml")


def test_install_from_url(make_config, packages, served: str, tmp_path: Path) -> None:
    cfg = make_config(rules=SQUARE_RULE, fleet={"download_timeout_s": 10})
    config = tmp_path / "box.yaml"
    res = edge("model", "install", f"{served}/shapes-1.2.0.edgepkg", "--config", config)
    assert res.exit_code == 0, res.output
    assert store_for(cfg).current() == "1.2.0"
    one_line_error(edge("model", "install", f"{served}/nothing.edgepkg", "--config", config),
                   "download of", "404")
    one_line_error(edge("model", "install", "ftp://example.invalid/x.edgepkg", "--config", config),
                   "http(s)://")
    assert store_for(cfg).current() == "1.2.0"
    assert not list(tmp_path.glob("download-*"))


def test_device_install_without_the_extras(shapes_model: Path, shapes_data: Path, keys,
                                           make_config, packages, tmp_path: Path) -> None:
    """Without [eval] `edge package` cannot measure, without [signing] it cannot sign, and a
    box configured with a public key but no cryptography cannot verify (so it refuses).
    Simulated as in tests/runtime/test_device_install.py: a real `edge` subprocess in which
    importing the package fails as if it were not installed."""
    from tests.runtime.test_device_install import edge as edge_without

    def line(res, *words: str) -> None:
        assert res.returncode == 1, res.stdout + res.stderr
        errors = [ln for ln in res.stderr.splitlines() if ln.startswith("Error:")]
        assert len(errors) == 1 and "Traceback" not in res.stderr, res.stderr
        for w in words:
            assert w in errors[0], errors[0]

    args = ["package", "--model", str(shapes_model), "--data", str(shapes_data), "--version",
            "1.0.0", "--out", str(tmp_path / "p.edgepkg")]
    line(edge_without(("pycocotools",), *args), "pycocotools", "pip install 'edge-detect[eval]'")
    line(edge_without(("cryptography",), *args, "--sign-key", str(keys["private"])),
         "cryptography", "pip install 'edge-detect[signing]'")
    assert not (tmp_path / "p.edgepkg").exists()

    make_config(rules=SQUARE_RULE, fleet={"public_key": str(keys["public"])})
    line(edge_without(("cryptography",), "-q", "model", "install", str(packages["1.2.0-signed"].out),
                      "--config", str(tmp_path / "box.yaml")),
         "refused: integrity", "pip install 'edge-detect[signing]'")

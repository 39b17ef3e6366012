"""``install_package``: each gate refuses what it exists for, with the reason and figures,
and a refusal leaves the current model exactly as it was. Real packages of the shipped
shapes model, real TFLite interpreter, real pycocotools; broken packages are made by
editing a real one (``repack``)."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from edge.fleet.install import GATES, install_package
from edge.fleet.package import write_tar
from edge.fleet.store import ModelStore, store_for
from tests.fleet.conftest import repack, unpack_to, weaken

SQUARE_RULE = [{"name": "squares", "labels": ["square"]}]


def snapshot(store: ModelStore) -> tuple:
    link = store.root / "current"
    return (store.current(), os.readlink(link) if link.is_symlink() else None,
            os.lstat(link).st_ino if link.is_symlink() else None, store.versions(), store.previous())


def assert_refused(report, gate: str, store: ModelStore, before: tuple, *words: str) -> None:
    assert not report.ok and report.status == "refused" and report.gate == gate, report
    assert report.reason.startswith(f"{gate}: ") and "\n" not in report.reason
    for w in words:
        assert w in report.reason, report.reason
    assert snapshot(store) == before, "a refused package must leave the store untouched"
    staging = store.root / ".staging"
    assert not staging.exists() or list(staging.iterdir()) == [], "unpacked files left behind"
    assert store.history()[-1]["event"] == "refused"


@pytest.fixture
def installed(make_config, packages):
    """A store with 1.0.0 installed and current, and the config that installed it."""
    cfg = make_config(rules=SQUARE_RULE)
    store = store_for(cfg)
    r = install_package(packages["1.0.0"].out, store, cfg)
    assert r.ok and r.status == "installed", r
    return cfg, store


def test_install_activate_repeat_and_no_activate(make_config, packages) -> None:
    cfg = make_config(rules=SQUARE_RULE, fleet={"keep": 2})
    store = store_for(cfg)
    r = install_package(packages["1.0.0"].out, store, cfg)
    assert (r.ok, r.status, r.version, r.previous, r.gate, r.activated) == \
        (True, "installed", "1.0.0", None, None, True)
    assert r.map50 is not None and r.map50 > 0.9
    assert r.map50_package == packages["1.0.0"].manifest.figures.map50
    assert r.map_delta == pytest.approx(r.map50 - r.map50_package)
    assert r.invoke_ms is not None and r.invoke_ms > 0
    assert os.readlink(store.root / "current") == "versions/1.0.0"
    assert "mAP@0.5" in r.reason and "\n" not in r.reason

    # deliveries repeat: the current version again is not an error, and nothing changes
    before = snapshot(store)
    again = install_package(packages["1.0.0"].out, store, cfg)
    assert (again.ok, again.status, again.version) == (True, "already_installed", "1.0.0")
    assert snapshot(store) == before

    r2 = install_package(packages["1.1.0"].out, store, cfg)
    assert (r2.status, r2.previous) == ("installed", "1.0.0")
    assert (store.current(), store.previous()) == ("1.1.0", "1.0.0")

    # installed without activating: kept (not pruned at keep=2), current unchanged
    r3 = install_package(packages["1.2.0-signed"].out, store, cfg, activate=False)
    assert r3.ok and not r3.activated and r3.previous is None and store.current() == "1.1.0"
    assert store.versions() == ["1.0.0", "1.1.0", "1.2.0"]
    d = r3.to_dict()
    assert d["status"] == "installed" and d["version"] == "1.2.0" and set(d) >= {
        "ok", "version", "status", "reason", "map50", "map50_package", "map_delta",
        "invoke_ms", "previous"}


def test_corrupt_package_refused_current_untouched(installed, packages, tmp_path: Path) -> None:
    cfg, store = installed
    before = snapshot(store)
    # one byte of the file changed (a bad download or disk)
    data = bytearray(packages["1.1.0"].out.read_bytes())
    data[len(data) // 2] ^= 0x01
    bad = tmp_path / "flipped.edgepkg"
    bad.write_bytes(data)
    r = install_package(bad, store, cfg)
    assert_refused(r, "integrity", store, before)

    # one byte of the model changed, the manifest as it was: the hash names the file
    def flip_model(folder: Path, m: dict) -> None:
        p = folder / m["model"]
        b = bytearray(p.read_bytes())
        b[1000] ^= 0xFF
        p.write_bytes(b)

    r = install_package(repack(packages["1.1.0"].out, tmp_path / "model.edgepkg", flip_model,
                               rehash=False), store, cfg)
    assert_refused(r, "integrity", store, before, "shapes_int8.tflite", "sha256", "does not match")
    assert r.version == "1.1.0"

    # a file slipped in that the manifest does not list
    def extra(folder: Path, m: dict) -> None:
        (folder / "run.sh").write_text("rm -rf /\n")

    r = install_package(repack(packages["1.1.0"].out, tmp_path / "extra.edgepkg", extra,
                               rehash=False), store, cfg)
    assert_refused(r, "integrity", store, before, "run.sh", "not in manifest.json")

    # truncated download; not a package at all
    (tmp_path / "half.edgepkg").write_bytes(packages["1.1.0"].out.read_bytes()[:5000])
    assert_refused(install_package(tmp_path / "half.edgepkg", store, cfg), "integrity", store, before)
    assert_refused(install_package(tmp_path / "nope.edgepkg", store, cfg), "integrity", store,
                   before, "not found")


def _tar_with(path: Path, members: list[tarfile.TarInfo]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info in members:
            data = b"x" * info.size if info.isfile() else None
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def test_hostile_tar_members_refused(installed, tmp_path: Path) -> None:
    cfg, store = installed
    before = snapshot(store)
    outside = tmp_path / "evil.txt"
    for name, kind in (("../evil.txt", tarfile.REGTYPE), (str(outside), tarfile.REGTYPE),
                       ("manifest.json", tarfile.SYMTYPE)):
        info = tarfile.TarInfo(name)
        info.type, info.size = kind, 4 if kind == tarfile.REGTYPE else 0
        if kind == tarfile.SYMTYPE:
            info.linkname = "/etc/passwd"
        r = install_package(_tar_with(tmp_path / "evil.edgepkg", [info]), store, cfg)
        assert_refused(r, "integrity", store, before)
        assert not outside.exists()
    dup = [tarfile.TarInfo("a.txt"), tarfile.TarInfo("a.txt")]
    for d in dup:
        d.size = 4
    r = install_package(_tar_with(tmp_path / "dup.edgepkg", dup), store, cfg)
    assert_refused(r, "integrity", store, before, "twice")


def test_manifest_naming_a_path_outside_refused(installed, packages, tmp_path: Path) -> None:
    cfg, store = installed
    before = snapshot(store)

    def escape(folder: Path, m: dict) -> None:
        m["sample"] = "../../sample"

    with pytest.raises(ValueError, match="unsafe path"):  # make_package's model refuses it too
        repack(packages["1.1.0"].out, tmp_path / "x.edgepkg", escape)
    # written by hand, past the packaging code
    folder = unpack_to(packages["1.1.0"].out, tmp_path / "raw")
    raw = json.loads((folder / "manifest.json").read_text())
    raw["sample"] = "../../sample"
    (folder / "manifest.json").write_text(json.dumps(raw))
    write_tar(folder, tmp_path / "escape.edgepkg")
    r = install_package(tmp_path / "escape.edgepkg", store, cfg)
    assert_refused(r, "integrity", store, before, "unsafe path '../../sample'")


def test_package_larger_than_the_free_disk_refused(installed, packages,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The free space is the disk's real figure; the reserve is raised past it so this disk
    counts as full."""
    import shutil

    from edge.fleet import install

    cfg, store = installed
    before = snapshot(store)
    monkeypatch.setattr(install, "DISK_RESERVE_BYTES", shutil.disk_usage(store.root).free)
    r = install_package(packages["1.1.0"].out, store, cfg)
    assert_refused(r, "integrity", store, before, "MiB but", "are free")


def test_signatures(make_config, packages, keys, tmp_path: Path) -> None:
    cfg = make_config(rules=SQUARE_RULE, fleet={"public_key": str(keys["public"])})
    store = store_for(cfg)
    before = snapshot(store)
    r = install_package(packages["1.0.0"].out, store, cfg)
    assert_refused(r, "integrity", store, before, "unsigned", "public key")

    r = install_package(packages["1.2.0-signed"].out, store, cfg)
    assert r.ok and store.current() == "1.2.0"
    before = snapshot(store)

    def bump(v: str):
        def edit(folder: Path, m: dict) -> None:
            m["version"] = v
        return edit

    wrong = repack(packages["1.2.0-signed"].out, tmp_path / "wrong.edgepkg", bump("1.3.0"),
                   sign_key=keys["other_private"])
    assert_refused(install_package(wrong, store, cfg), "integrity", store, before, "does not verify")

    # signed by the fleet, then the manifest altered (a better figure): the signature breaks
    def inflate(folder: Path, m: dict) -> None:
        m["version"] = "1.3.0"
        m["figures"]["map50"] = 0.5

    altered = repack(packages["1.2.0-signed"].out, tmp_path / "altered.edgepkg", inflate,
                     keep_signature=True)
    assert_refused(install_package(altered, store, cfg), "integrity", store, before, "does not verify")

    good = repack(packages["1.2.0-signed"].out, tmp_path / "good.edgepkg", bump("1.3.0"),
                  sign_key=keys["private"])
    assert install_package(good, store, cfg).ok and store.current() == "1.3.0"

    # public_key given by the caller wins over an unset config
    plain = make_config(rules=SQUARE_RULE, fleet={"store": str(tmp_path / "s2")})
    s2 = store_for(plain)
    assert_refused(install_package(packages["1.1.0"].out, s2, plain, public_key=keys["public"]),
                   "integrity", s2, snapshot(s2), "unsigned")


def test_model_that_cannot_load_refused(installed, packages, tmp_path: Path) -> None:
    cfg, store = installed
    before = snapshot(store)

    def truncate(folder: Path, m: dict) -> None:
        p = folder / m["model"]
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])

    # re-hashed: the manifest is valid, the model is not
    r = install_package(repack(packages["1.1.0"].out, tmp_path / "trunc.edgepkg", truncate),
                        store, cfg)
    assert_refused(r, "load", store, before, "shapes_int8.tflite", "does not load", "delegate cpu")


def test_labels_that_break_a_rule_refused(make_config, packages) -> None:
    cfg = make_config(rules=[{"name": "people", "labels": ["person"]}])
    store = store_for(cfg)
    r = install_package(packages["1.0.0"].out, store, cfg)
    assert_refused(r, "rules", store, (None, None, None, [], None), "'people'", "'person'",
                   "square, circle, triangle")


def test_accuracy_gate_reports_both_figures(installed, packages, tmp_path: Path,
                                            make_config) -> None:
    cfg, store = installed
    before = snapshot(store)

    def shift_truth(folder: Path, m: dict) -> None:
        # the package claims its figure on boxes the model does not reproduce here: every
        # ground-truth box moved by 40% of its size, so the box scores far below the claim
        for txt in (folder / "sample" / "val" / "labels").glob("*.txt"):
            out = []
            for ln in txt.read_text().splitlines():
                k, cx, cy, w, h = ln.split()
                x, half = float(cx), float(w) / 2
                x = x + 0.8 * half if x + 1.8 * half <= 1 else x - 0.8 * half  # stay inside
                out.append(f"{k} {x:.6f} {cy} {w} {h}\n")
            txt.write_text("".join(out))

    pkg = repack(packages["1.1.0"].out, tmp_path / "weak.edgepkg", shift_truth)
    r = install_package(pkg, store, cfg)
    recorded = packages["1.1.0"].manifest.figures.map50
    assert_refused(r, "accuracy", store, before, f"{recorded:.4f} in the package",
                   "on this box", "max_map_drop")
    assert r.map50_package == recorded and r.map50 is not None and r.map50 < recorded - 0.1
    assert r.map_delta == pytest.approx(r.map50 - recorded)
    assert f"{r.map50:.4f}" in r.reason and f"{r.map_delta:+.4f}" in r.reason

    # the allowance is the config's: a box that accepts any drop installs it
    loose = make_config(rules=SQUARE_RULE, fleet={"max_map_drop": 1.0})
    ok = install_package(pkg, store_for(loose), loose)
    assert ok.ok and ok.map_delta == pytest.approx(r.map_delta)


def test_weaker_model_under_the_packages_figure_refused(installed, packages, shapes_model: Path,
                                                        shapes_data: Path, tmp_path: Path) -> None:
    """A different, weaker model in a package that carries the good model's figure (swapped
    after measuring, manifest re-hashed): the box measures it and refuses with both figures.
    The same weak model packaged honestly records its own figure, and installs."""
    from edge.fleet.package import make_package

    cfg, store = installed
    before = snapshot(store)
    weak = weaken(shapes_model, tmp_path / shapes_model.name)

    def swap_model(folder: Path, m: dict) -> None:
        (folder / m["model"]).write_bytes(weak.read_bytes())

    r = install_package(repack(packages["1.1.0"].out, tmp_path / "swapped.edgepkg", swap_model),
                        store, cfg)
    recorded = packages["1.1.0"].manifest.figures.map50
    assert_refused(r, "accuracy", store, before, f"{r.map50:.4f} on this box",
                   f"{recorded:.4f} in the package")
    assert 0.2 < r.map50 < recorded - 0.1 and r.map_delta == pytest.approx(r.map50 - recorded)

    honest = make_package(weak, shapes_data, "1.4.0", tmp_path / "weak-1.4.0.edgepkg", sample=8)
    assert honest.manifest.figures.map50 == pytest.approx(r.map50, abs=1e-4)
    ok = install_package(honest.out, store, cfg)
    assert ok.ok and abs(ok.map_delta) < 1e-4 and store.current() == "1.4.0"


def test_edgetpu_delegate_without_the_runtime_refused(make_config, packages) -> None:
    """The load gate uses the configured delegate: on this machine there is no Edge TPU
    runtime (libedgetpu), so delegate edgetpu cannot load and the package is refused with
    the runtime's install hint. (Skipped where an Edge TPU runtime is installed.)"""
    import ctypes.util

    if ctypes.util.find_library("edgetpu"):
        pytest.skip("an Edge TPU runtime is installed here")
    cfg = make_config(rules=SQUARE_RULE, delegate="edgetpu")
    store = store_for(cfg)
    r = install_package(packages["1.0.0"].out, store, cfg)
    assert_refused(r, "load", store, (None, None, None, [], None), "delegate edgetpu",
                   "libedgetpu")


def test_latency_gate(installed, packages) -> None:
    cfg, store = installed
    before = snapshot(store)
    tight = cfg.model_copy(update={"latency_budget_ms": 0.001})
    r = install_package(packages["1.1.0"].out, store, tight)
    assert_refused(r, "latency", store, before, "median invoke", "latency_budget_ms 0.001")
    assert r.invoke_ms is not None and r.invoke_ms > 0.001 and r.map50 is not None


def test_same_version_other_contents_refused(installed, packages, tmp_path: Path) -> None:
    cfg, store = installed
    before = snapshot(store)

    def relabel(folder: Path, m: dict) -> None:
        m["name"] = "other"

    r = install_package(repack(packages["1.0.0"].out, tmp_path / "same.edgepkg", relabel),
                        store, cfg)
    # only the manifest changed: the files are the same, so it is the same release
    assert r.status == "already_installed"

    def change(folder: Path, m: dict) -> None:
        (folder / "labels.txt").write_text("square\ncircle\ntriangle\n\n")

    r = install_package(repack(packages["1.0.0"].out, tmp_path / "other.edgepkg", change),
                        store, cfg)
    assert_refused(r, "integrity", store, before, "1.0.0 is installed with other contents")


def test_without_pycocotools_the_box_refuses_with_the_hint(make_config, packages) -> None:
    """A device install without the [eval] extra cannot run the accuracy gate: refused, one
    line naming the extra. Simulated as in tests/runtime/test_device_install.py: a real
    `edge` subprocess whose imports of pycocotools fail as if it were not installed."""
    from tests.runtime.test_device_install import edge

    cfg = make_config(rules=SQUARE_RULE)
    config = Path(cfg.fleet.store).parent / "box.yaml"
    res = edge(("pycocotools",), "-q", "model", "install", str(packages["1.0.0"].out),
               "--config", str(config))
    assert res.returncode == 1, res.stdout + res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in res.stderr
    assert "accuracy" in errors[0] and "pip install 'edge-detect[eval]'" in errors[0]
    assert store_for(cfg).current() is None


def test_gates_are_named() -> None:
    assert GATES == ("integrity", "load", "rules", "accuracy", "latency")

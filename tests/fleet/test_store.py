"""``ModelStore``: versions in folders, ``current`` an atomically swapped symlink, rollback
and prune keeping the link valid at every step. Versions are real packages, unpacked and
verified the way the installer does it (the gates are tested in test_install.py)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from edge.fleet.install import unpack, verify_package
from edge.fleet.manifest import Manifest
from edge.fleet.store import ModelStore, default_store_root, store_for
from tests.fleet.conftest import repack


def add_version(store: ModelStore, package: Path) -> str:
    staging = store.staging_dir()
    unpack(package, staging)
    m = verify_package(staging, None)
    store.add(staging, m.version)
    return m.version


@pytest.fixture(scope="module")
def four_packages(packages, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """1.0.0, 1.1.0 and two more versions of the same model (re-versioned repacks)."""
    root = tmp_path_factory.mktemp("four")

    def version(v: str):
        def edit(folder: Path, data: dict) -> None:
            data["version"] = v
        return edit

    extra = [repack(packages["1.0.0"].out, root / f"{v}.edgepkg", version(v)) for v in ("1.2.0", "1.3.0")]
    return [packages["1.0.0"].out, packages["1.1.0"].out, *extra]


def assert_link_valid(store: ModelStore, version: str | None) -> None:
    link = store.root / "current"
    if version is None:
        assert not link.exists() and not link.is_symlink()
        return
    assert link.is_symlink(), "current must be a symlink, not a copy"
    assert os.readlink(link) == f"versions/{version}"  # relative: the store can move whole
    assert (link / "manifest.json").is_file()
    assert Manifest.read(link).version == version
    assert store.current() == version
    assert store.model_path().is_file() and store.model_path().parent.name == version


def test_activate_rollback_prune_keep_the_link_valid(tmp_path: Path, four_packages) -> None:
    store = ModelStore(tmp_path / "store", keep=2)
    assert store.versions() == [] and store.current() is None and store.previous() is None
    assert_link_valid(store, None)
    with pytest.raises(ValueError, match="no current version"):
        store.model_path()

    v1 = add_version(store, four_packages[0])
    assert store.current() is None  # installed is not active
    assert store.activate(v1) is None
    assert_link_valid(store, "1.0.0")
    inode = os.lstat(store.root / "current").st_ino

    v2 = add_version(store, four_packages[1])
    assert store.activate(v2) == "1.0.0"
    assert_link_valid(store, "1.1.0")
    assert store.previous() == "1.0.0"
    # a swap replaces the link itself (new inode), the version folders stay where they were
    assert os.lstat(store.root / "current").st_ino != inode
    assert sorted(p.name for p in (store.root / "versions").iterdir()) == ["1.0.0", "1.1.0"]
    assert store.activate(v2) is None  # already current: nothing to swap

    assert store.rollback("FPS collapsed to 0.4") == "1.0.0"
    assert_link_valid(store, "1.0.0")
    assert store.previous() is None
    with pytest.raises(ValueError, match="no previous version"):
        store.rollback("again")
    last = store.history()[-1]
    assert last["event"] == "rollback" and last["reason"] == "FPS collapsed to 0.4"
    assert last["version"] == "1.0.0" and last["replaced"] == "1.1.0"

    store.activate("1.1.0")  # current 1.1.0, previous 1.0.0
    add_version(store, four_packages[2])
    add_version(store, four_packages[3])
    assert store.versions() == ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]  # oldest install first
    # keep 2: current (1.1.0) and previous (1.0.0) are the two oldest and never pruned;
    # also_keep protects a version installed but not activated
    assert store.prune(also_keep=["1.3.0"]) == ["1.2.0"]
    assert store.versions() == ["1.0.0", "1.1.0", "1.3.0"]
    assert_link_valid(store, "1.1.0")
    store.activate("1.3.0")  # previous 1.1.0: 1.0.0 is now the oldest unprotected one
    assert_link_valid(store, "1.3.0")
    assert store.prune() == ["1.0.0"]
    assert store.versions() == ["1.1.0", "1.3.0"]
    assert_link_valid(store, "1.3.0")
    assert store.previous() == "1.1.0"
    assert store.prune() == []
    assert [r["removed"] for r in store.history() if r["event"] == "prune"] == [["1.2.0"], ["1.0.0"]]
    with pytest.raises(ValueError, match="not installed"):
        store.activate("1.0.0")


def test_swap_is_atomic_for_readers(tmp_path: Path, four_packages) -> None:
    """A reader resolving ``current`` while it is swapped back and forth never finds it
    missing or pointing at nothing (a copy or unlink+symlink would fail this)."""
    store = ModelStore(tmp_path / "store")
    a, b = (add_version(store, p) for p in four_packages[:2])
    store.activate(a)
    seen: set[str] = set()
    misses: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        link = store.root / "current"
        while not stop.is_set():
            try:
                seen.add(Manifest.read(link).version)
            except (OSError, ValueError) as e:
                misses.append(repr(e))

    t = threading.Thread(target=reader)
    t.start()
    for i in range(300):
        store.activate(b if i % 2 == 0 else a)
    stop.set()
    t.join()
    assert misses == []
    assert seen == {a, b}


def test_add_is_one_rename_and_leftovers_are_not_versions(tmp_path: Path, packages) -> None:
    store = ModelStore(tmp_path / "store")
    staging = store.staging_dir()
    unpack(packages["1.0.0"].out, staging)
    # an install that died before its rename leaves only .staging: no version appears
    assert store.versions() == []
    version = verify_package(staging, None).version
    dest = store.add(staging, version)
    assert not staging.exists() and dest == store.root / "versions" / "1.0.0"
    assert store.versions() == ["1.0.0"]
    with pytest.raises(FileExistsError):
        store.add(store.staging_dir(), "1.0.0")
    store.clean_staging()
    assert not (store.root / ".staging").exists()
    assert store.history()[0]["event"] == "install"


def test_model_and_labels_paths(tmp_path: Path, packages, shapes_model: Path) -> None:
    store = ModelStore(tmp_path / "store")
    add_version(store, packages["1.0.0"].out)
    store.activate("1.0.0")
    assert store.model_path().name == shapes_model.name
    # no Edge TPU twin in this package: the edgetpu delegate gets the CPU model
    assert store.model_path("1.0.0", delegate="edgetpu") == store.model_path()
    assert store.labels_path().read_text().split() == ["square", "circle", "triangle"]
    with pytest.raises(ValueError, match="not installed"):
        store.model_path("9.9.9")


def test_torn_history_line_is_skipped(tmp_path: Path, packages) -> None:
    store = ModelStore(tmp_path / "store")
    add_version(store, packages["1.0.0"].out)
    with open(store.root / "history.jsonl", "a") as f:
        f.write('{"time": 1, "event": "ins')  # power cut mid-append
    assert [r["event"] for r in store.history()] == ["install"]
    assert store.versions() == ["1.0.0"]


def test_default_root_and_store_for(tmp_path: Path, make_config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_store_root("box7") == tmp_path / "xdg" / "edge" / "models" / "box7"
    cfg = make_config(fleet={"keep": 5})
    s = store_for(cfg)
    assert s.root == tmp_path / "store" and s.keep == 5
    cfg2 = cfg.model_copy(update={"fleet": cfg.fleet.model_copy(update={"store": None})})
    assert store_for(cfg2).root == tmp_path / "xdg" / "edge" / "models" / "box1"
    with pytest.raises(ValueError, match="keep"):
        ModelStore(tmp_path, keep=0)

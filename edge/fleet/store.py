"""Installed model versions on a box, and which one runs.

Layout under ``root`` (``default_store_root(device)`` unless the config names one)::

    versions/<version>/   an unpacked, verified package (manifest.json, model, labels, sample/)
    current  -> versions/<version>    the running model (relative symlink)
    previous -> versions/<version>    what ``current`` was before the last activate
    history.jsonl         one JSON line per install / activate / rollback / prune
    .lock                 flock: one installer at a time (CLI and MQTT updater may race)
    .staging/             packages being unpacked and checked; never read as a version

A swap is atomic: a new symlink is made under a temporary name, then ``os.replace``d over
``current`` (rename(2) replaces a link in one step), so a reader or a power cut sees the
old version or the new one, never none. A version folder appears in one rename as well
(unpacked into ``.staging`` first), so a crash leaves no half version.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from edge.fleet.manifest import Manifest, check_version

if TYPE_CHECKING:
    from edge.config import EdgeConfig

log = logging.getLogger(__name__)

CURRENT = "current"
PREVIOUS = "previous"
VERSIONS = "versions"
HISTORY = "history.jsonl"
STAGING = ".staging"
LOCK = ".lock"


def default_store_root(device: str) -> Path:
    """``<state dir>/models/<device>`` (``~/.local/state/edge/models/<device>``)."""
    from edge.alerts.open_events import default_state_dir

    return default_state_dir() / "models" / device


def store_for(cfg: EdgeConfig) -> ModelStore:
    """The store a device config names: ``fleet.store`` or ``default_store_root(device)``,
    keeping ``fleet.keep`` versions."""
    return ModelStore(cfg.fleet.store or default_store_root(cfg.device), cfg.fleet.keep)


class ModelStore:
    """``root``: the store folder (created on first write); ``keep``: versions kept by
    ``prune`` (current and previous are kept even beyond it)."""

    def __init__(self, root: Path, keep: int = 3) -> None:
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.root = Path(root)
        self.keep = keep

    # ---- reading ----------------------------------------------------------------------
    @property
    def versions_dir(self) -> Path:
        return self.root / VERSIONS

    def version_dir(self, version: str) -> Path:
        return self.versions_dir / check_version(version)

    def history(self) -> list[dict]:
        """Every record of ``history.jsonl``, oldest first; a torn last line (power cut
        mid-append) is skipped with a warning."""
        path = self.root / HISTORY
        if not path.is_file():
            return []
        out = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                log.warning("%s:%d: unreadable record skipped", path, n)
        return out

    def install_times(self) -> dict[str, float]:
        """version -> time of its last install (history), else its folder's mtime."""
        times = {r["version"]: float(r["time"]) for r in self.history()
                 if r.get("event") == "install" and "version" in r and "time" in r}
        return {v: times.get(v, (self.versions_dir / v).stat().st_mtime) for v in self._dirs()}

    def _dirs(self) -> list[str]:
        if not self.versions_dir.is_dir():
            return []
        return [p.name for p in self.versions_dir.iterdir()
                if p.is_dir() and not p.is_symlink() and (p / "manifest.json").is_file()]

    def versions(self) -> list[str]:
        """Installed versions, oldest install first."""
        times = self.install_times()
        return sorted(times, key=lambda v: (times[v], v))

    def _link(self, name: str) -> str | None:
        link = self.root / name
        if not link.is_symlink():
            return None
        target = Path(os.readlink(link))
        if not (self.root / target / "manifest.json").is_file():
            log.warning("%s points at %s, which is not an installed version", link, target)
            return None
        return target.name

    def current(self) -> str | None:
        """The version ``current`` points at; None before the first activate."""
        return self._link(CURRENT)

    def previous(self) -> str | None:
        """The version that was current before the last activate (None after a rollback:
        going back to the version just rolled back from needs an explicit activate)."""
        return self._link(PREVIOUS)

    def manifest(self, version: str | None = None) -> Manifest:
        return Manifest.read(self._resolve(version))

    def _resolve(self, version: str | None) -> Path:
        v = version or self.current()
        if v is None:
            raise ValueError(f"model store {self.root} has no current version; install a "
                             "package first (edge model install)")
        d = self.version_dir(v)
        if not d.is_dir():
            raise ValueError(f"version {v} is not installed in {self.root} (installed: "
                             f"{', '.join(self.versions()) or 'none'})")
        return d

    def model_path(self, version: str | None = None, delegate: str = "cpu") -> Path:
        """The version's .tflite (default: current); its Edge TPU twin for ``delegate``
        "edgetpu" when the package has one. The path goes through ``versions/<v>``, not
        ``current``, so it stays valid while the link is swapped under a running model."""
        d = self._resolve(version)
        m = Manifest.read(d)
        name = m.edgetpu_model if delegate == "edgetpu" and m.edgetpu_model else m.model
        return d / name

    def labels_path(self, version: str | None = None) -> Path | None:
        d = self._resolve(version)
        m = Manifest.read(d)
        return d / m.labels if m.labels else None

    # ---- writing ----------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive lock on the store for a whole install or swap (blocks until free)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK, "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def staging_dir(self) -> Path:
        """A fresh folder on the store's file system, so ``add`` is a rename."""
        import tempfile

        base = self.root / STAGING
        base.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix="pkg-", dir=base))
        path.chmod(0o755)  # mkdtemp makes it 0700; the service may run as another user
        return path

    def clean_staging(self) -> None:
        """Remove leftovers of installs that died mid-way (call under ``lock``)."""
        shutil.rmtree(self.root / STAGING, ignore_errors=True)

    def add(self, unpacked: Path, version: str, **record: object) -> Path:
        """Move the verified folder ``unpacked`` (from ``staging_dir``) to
        ``versions/<version>`` in one rename; records the install in the history."""
        dest = self.version_dir(version)
        if dest.exists():
            raise FileExistsError(f"version {version} is already installed at {dest}")
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        os.replace(unpacked, dest)
        _fsync_dir(self.versions_dir)
        self.record("install", version, **record)
        return dest

    def _swap(self, name: str, version: str | None) -> None:
        link = self.root / name
        if version is None:
            with contextlib.suppress(FileNotFoundError):
                link.unlink()
            return
        tmp = self.root / f".{name}.tmp-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(Path(VERSIONS) / version, tmp)  # relative: the store may be moved whole
        os.replace(tmp, link)

    def activate(self, version: str, event: str = "activate", **record: object) -> str | None:
        """Point ``current`` at ``version`` (atomic swap); ``previous`` at what it replaced.
        Returns the replaced version (None when there was none or it was ``version``)."""
        if not self.version_dir(version).is_dir():
            raise ValueError(f"version {version} is not installed in {self.root}")
        old = self.current()
        if old == version:
            return None
        # previous first: a crash between the two leaves previous == current, harmless
        self._swap(PREVIOUS, old)
        self._swap(CURRENT, version)
        _fsync_dir(self.root)
        self.record(event, version, replaced=old, **record)
        return old

    def rollback(self, reason: str) -> str:
        """Back to ``previous()``; returns that version. ValueError when there is none.
        The version rolled back from stays installed (until pruned), and ``previous`` is
        cleared so a second rollback cannot bounce back to it."""
        target = self.previous()
        if target is None:
            raise ValueError(f"no previous version to roll back to in {self.root} "
                             f"(current: {self.current() or 'none'})")
        bad = self.current()
        self._swap(CURRENT, target)
        self._swap(PREVIOUS, None)
        _fsync_dir(self.root)
        self.record("rollback", target, replaced=bad, reason=reason)
        log.warning("model rolled back from %s to %s: %s", bad, target, reason)
        return target

    def deactivate(self, reason: str) -> str | None:
        """Clear ``current`` (and ``previous``): the config's own ``model:`` runs again, now
        and after a restart. For a first install that failed, which has nothing to roll back
        to. Returns the version that was current."""
        bad = self.current()
        self._swap(CURRENT, None)
        self._swap(PREVIOUS, None)
        _fsync_dir(self.root)
        self.record("rollback", None, replaced=bad, reason=reason)
        log.warning("model rolled back from %s to the config's model: %s", bad, reason)
        return bad

    def prune(self, also_keep: Iterable[str] = ()) -> list[str]:
        """Remove the oldest versions beyond ``keep``, never current, previous or
        ``also_keep`` (e.g. a version just installed without activating it); returns the
        removed ones."""
        protected = {self.current(), self.previous(), *also_keep} - {None}
        versions = self.versions()
        extra = len(versions) - self.keep
        removed = []
        for v in versions:
            if extra <= 0:
                break
            if v in protected:
                continue
            # rename first: a crash mid-delete must not leave a half version that looks installed
            doomed = self.root / STAGING / f"prune-{v}-{os.getpid()}"
            doomed.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.version_dir(v), doomed)
            shutil.rmtree(doomed)
            removed.append(v)
            extra -= 1
        if removed:
            self.record("prune", None, removed=removed)
        return removed

    def record(self, event: str, version: str | None, **fields: object) -> None:
        """Append one line to ``history.jsonl`` (a single write: lines never interleave)."""
        self.root.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"time": time.time(), "event": event, "version": version, **fields},
                          default=str)
        with open(self.root / HISTORY, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (a power cut right after must not undo it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

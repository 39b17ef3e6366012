"""Install a model package on this box, behind gates; only a package that passes them all
is swapped in.

Gates, in order (the first failure refuses the package, the current model stays as it was,
and the unpacked files are removed):

1. ``integrity``: the tar unpacks safely (regular files and folders only, relative paths,
   no ``..``), ``manifest.json`` is valid, every file's sha256 and size match it and no
   file is unlisted; with a public key configured, ``manifest.sig`` verifies (an unsigned
   package is refused then).
2. ``load``: the model loads with the configured delegate and threads (``Detector.load``).
3. ``rules``: every alert rule's label is a class of the new model.
4. ``accuracy``: the bundled sample through this box's interpreter; mAP@0.5 may fall at
   most ``fleet.max_map_drop`` below the package's recorded figure.
5. ``latency``: the median invoke on the sample must fit ``latency_budget_ms`` (if set).

Then the package's folder becomes ``versions/<version>`` in one rename, ``current`` is
swapped to it (``activate=True``) and old versions are pruned.
"""

from __future__ import annotations

import logging
import re
import shutil
import tarfile
import tempfile
import urllib.parse
import urllib.request
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from edge.extras import install_command, missing_modules
from edge.fleet.manifest import MANIFEST, SIGNATURE, Manifest, safe_relpath, verify_tree
from edge.fleet.store import ModelStore

if TYPE_CHECKING:
    from edge.config import EdgeConfig

log = logging.getLogger(__name__)

GATES = ("integrity", "load", "rules", "accuracy", "latency")
DISK_RESERVE_BYTES = 64 * 2**20  # left free after unpacking, for logs, queue and snapshots
# pycocotools rounds nothing, but the figure went through JSON at 4+ decimals: a drop equal
# to the allowance must pass
_EPS = 1e-6


@dataclass
class InstallReport:
    ok: bool
    version: str | None
    status: str  # "installed" | "refused" | "already_installed"
    reason: str  # one line; for refusals it names the gate and the figures
    map50: float | None = None
    map50_package: float | None = None
    map_delta: float | None = None
    invoke_ms: float | None = None
    previous: str | None = None
    gate: str | None = None  # the gate that refused (GATES), None otherwise
    name: str | None = None
    activated: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


class Refused(Exception):
    """A gate said no; ``reason`` is the one line the report carries."""

    def __init__(self, gate: str, reason: str, **figures: float | None) -> None:
        reason = " ".join(reason.split())  # one line, whatever the library's message was
        # errors from inside the unpacked package name its temporary folder: drop it
        reason = re.sub(r"\S*/\.staging/pkg-[^/\s]+/", "", reason)
        super().__init__(f"{gate}: {reason}")
        self.gate, self.reason, self.figures = gate, reason, figures


def unpack(package: Path, dest: Path) -> None:
    """Extract ``package`` into the empty folder ``dest``, refusing anything but regular
    files and folders at safe relative paths (no absolute paths, ``..``, links or devices:
    a hostile tar must not write outside ``dest``)."""
    package = Path(package)
    if not package.is_file():
        raise Refused("integrity", f"package not found: {package}")
    try:
        with tarfile.open(package, "r:*") as tar:
            _check_space(sum(m.size for m in tar.getmembers() if m.isfile()), dest)
            _extract(tar, dest)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:  # not a tar, truncated, bad gzip
        if isinstance(e, OSError) and e.errno is not None:
            raise  # the box's own trouble (disk full, permissions): not the package's fault
        raise Refused("integrity", f"{package.name}: not a readable package ({e})") from e


def _check_space(needed: int, dest: Path) -> None:
    """Refuse a package whose files would not fit (a gzip bomb, or a full SD card): a full
    disk mid-unpack could also break the running model's logs and queue."""
    free = shutil.disk_usage(dest).free - DISK_RESERVE_BYTES
    if needed > free:
        raise Refused("integrity", f"the package unpacks to {needed / 2**20:.1f} MiB but "
                      f"{max(free, 0) / 2**20:.1f} MiB are free (keeping "
                      f"{DISK_RESERVE_BYTES / 2**20:.0f} MiB in reserve)")


def _extract(tar: tarfile.TarFile, dest: Path) -> None:
    seen: set[str] = set()
    for m in tar:
        try:
            name = safe_relpath(m.name.removeprefix("./").rstrip("/"))
        except ValueError as e:
            raise Refused("integrity", str(e)) from e
        if name in seen:
            raise Refused("integrity", f"{name} appears twice in the package")
        seen.add(name)
        out = dest / name
        if m.isdir():
            out.mkdir(parents=True, exist_ok=True)
        elif m.isfile():
            out.parent.mkdir(parents=True, exist_ok=True)
            src = tar.extractfile(m)
            if src is None:
                raise Refused("integrity", f"{name}: cannot be read from the package")
            with src, open(out, "wb") as f:
                shutil.copyfileobj(src, f)
        else:
            raise Refused("integrity", f"{name}: links and special files are not allowed "
                          "in a package")


def read_package_manifest(folder: Path) -> Manifest:
    """The manifest of the unpacked package in ``folder``, not yet verified (what the
    package claims: reports name its version even when a later check fails)."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise Refused("integrity", f"no {MANIFEST} in the package")
    try:
        return Manifest.from_bytes(path.read_bytes())
    except ValueError as e:
        raise Refused("integrity", str(e)) from e


def verify_package(folder: Path, public_key: Path | None) -> Manifest:
    """The manifest of the unpacked package in ``folder`` once every hash (and, with
    ``public_key``, the signature) checks out; Refused("integrity", ...) otherwise."""
    folder = Path(folder)
    manifest = read_package_manifest(folder)
    try:
        verify_tree(folder, manifest)
    except ValueError as e:
        raise Refused("integrity", str(e)) from e
    sig_path = folder / SIGNATURE
    if public_key is not None:
        from edge.fleet.signing import SignatureError, verify

        try:
            verify((folder / MANIFEST).read_bytes(),
                   sig_path.read_bytes() if sig_path.is_file() else None, public_key)
        except (SignatureError, RuntimeError, FileNotFoundError) as e:
            # no cryptography or no key file on the box: nothing can be verified, so
            # nothing installs (a configured key means signatures are required)
            raise Refused("integrity", str(e)) from e
    elif sig_path.is_file():
        log.info("package is signed but no fleet.public_key is configured: signature not checked")
    return manifest


def _same_contents(store: ModelStore, manifest: Manifest) -> bool:
    return store.manifest(manifest.version).files == manifest.files


def _check_repeat(store: ModelStore, manifest: Manifest) -> bool:
    """True when this exact version is installed already (same files); Refused when a
    version of that number is installed with other files (a version is never rebuilt)."""
    if not store.version_dir(manifest.version).is_dir():
        return False
    if _same_contents(store, manifest):
        return True
    raise Refused("integrity", f"version {manifest.version} is installed with other contents; "
                  "give the new package a new version")


def _gates(folder: Path, manifest: Manifest, cfg: EdgeConfig) -> tuple[float, float, float | None]:
    """Gates 2-5 on the unpacked package; returns (box mAP@0.5, delta, median invoke ms)."""
    from edge.alerts.labels import check_rule_labels, model_labels
    from edge.fleet.sample import load_for_eval, load_sample, measure_detector

    name = (manifest.edgetpu_model if cfg.delegate == "edgetpu" and manifest.edgetpu_model
            else manifest.model)
    model, labels = folder / name, folder / manifest.labels
    try:
        det = load_for_eval(model, labels, threads=cfg.threads, delegate=cfg.delegate)
    except Exception as e:  # noqa: BLE001 - any failure to load is this gate's answer
        log.debug("model %s failed to load", model, exc_info=True)
        raise Refused("load", f"{name} does not load with delegate {cfg.delegate}: "
                      f"{type(e).__name__}: {e}") from e
    try:
        check_rule_labels(cfg.alerts.rules, model_labels(model, labels), model)
    except ValueError as e:
        raise Refused("rules", f"alert rules: {e}") from e
    lacking = missing_modules("pycocotools")
    if lacking:
        raise Refused("accuracy", "the accuracy gate scores mAP with pycocotools, which this "
                      f"box lacks: {install_command('eval')}")
    try:
        m = measure_detector(det, load_sample(folder / manifest.sample))
    except Exception as e:  # noqa: BLE001 - a sample the model cannot run is a refusal
        log.debug("sample run failed", exc_info=True)
        raise Refused("accuracy", f"running the bundled sample failed: {type(e).__name__}: {e}") from e
    recorded = manifest.figures.map50
    delta = m.map50 - recorded
    figures = {"map50": m.map50, "map50_package": recorded, "map_delta": delta,
               "invoke_ms": m.invoke_ms_median}
    if delta < -cfg.fleet.max_map_drop - _EPS:
        raise Refused("accuracy", f"mAP@0.5 on the bundled sample ({m.images} images) is "
                      f"{m.map50:.4f} on this box vs {recorded:.4f} in the package (delta "
                      f"{delta:+.4f}; fleet.max_map_drop allows -{cfg.fleet.max_map_drop:.4f})",
                      **figures)
    budget = cfg.latency_budget_ms
    if budget is not None and m.invoke_ms_median is not None and m.invoke_ms_median > budget:
        raise Refused("latency", f"median invoke {m.invoke_ms_median:.1f} ms on the sample "
                      f"exceeds latency_budget_ms {budget:g}", **figures)
    return m.map50, delta, m.invoke_ms_median


def install_package(package: Path, store: ModelStore, cfg: EdgeConfig, *, activate: bool = True,
                    public_key: Path | None = None) -> InstallReport:
    """Verify, gate, unpack into ``store`` and (``activate``) swap to ``package``.

    Never raises for a bad package: the report says ``refused`` and why. Errors of the box
    itself (store folder unwritable, disk full) propagate as OSError."""
    key = public_key or cfg.fleet.public_key
    with store.lock():
        store.clean_staging()
        staging = store.staging_dir()
        manifest: Manifest | None = None
        try:
            unpack(package, staging)
            manifest = read_package_manifest(staging)
            verify_package(staging, key)
            if manifest.version == store.current() and _check_repeat(store, manifest):
                return InstallReport(True, manifest.version, "already_installed",
                                     f"{manifest.name} {manifest.version} is already the "
                                     "current version", name=manifest.name)
            installed = _check_repeat(store, manifest)
            map50, delta, invoke = _gates(staging, manifest, cfg)
            figures = {"map50": map50, "map50_package": manifest.figures.map50,
                       "map_delta": delta, "invoke_ms": invoke}
            if not installed:
                store.add(staging, manifest.version, name=manifest.name, package=str(package),
                          **figures)
            previous = None
            if activate:
                previous = store.activate(manifest.version, name=manifest.name)
            removed = store.prune(also_keep=[manifest.version])
            verb = "installed and activated" if activate else "installed (not activated)"
            reason = (f"{manifest.name} {manifest.version} {verb}: mAP@0.5 {map50:.4f} on this "
                      f"box vs {manifest.figures.map50:.4f} in the package ({delta:+.4f})")
            if removed:
                reason += f"; pruned {', '.join(removed)}"
            return InstallReport(True, manifest.version, "installed", reason, previous=previous,
                                 name=manifest.name, activated=activate, **figures)
        except Refused as r:
            version = manifest.version if manifest else None
            log.warning("package %s refused at the %s gate: %s", package, r.gate, r.reason)
            store.record("refused", version, gate=r.gate, reason=r.reason, package=str(package))
            return InstallReport(False, version, "refused", f"{r.gate}: {r.reason}",
                                 gate=r.gate,
                                 name=manifest.name if manifest else None, **r.figures)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def download(url: str, dest_dir: Path, timeout_s: float = 120.0) -> Path:
    """Fetch ``url`` (http, https or file) into a new file under ``dest_dir``; returns it.
    The caller installs it (hashes are checked there) and removes it."""
    scheme = urllib.parse.urlparse(url).scheme
    if scheme not in ("http", "https", "file"):
        raise ValueError(f"{url}: expected an http(s):// URL or a file path")
    Path(dest_dir).mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="download-", suffix=".edgepkg", dir=dest_dir)
    path = Path(tmp)
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as r, open(fd, "wb") as f:
            shutil.copyfileobj(r, f, 1 << 20)
    except (OSError, ValueError) as e:  # URLError/HTTPError are OSErrors; timeouts too
        path.unlink(missing_ok=True)
        raise RuntimeError(f"download of {url} failed: {e}") from e
    return path

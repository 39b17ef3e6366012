"""``manifest.json``: what a model package holds, the sha256 of every file, and the figures
measured when it was made. The box trusts nothing in a package that the manifest does not
list with a matching hash (and, with a public key configured, that the signature of these
exact bytes does not cover).

Layout of a package (a gzip tar, members at the top level, no folders above them)::

    manifest.json        this record (FORMAT 1)
    manifest.sig         optional: raw 64-byte ed25519 signature of manifest.json's bytes
    <model>.tflite       the model (its file name kept)
    <model>_edgetpu.tflite   optional Edge TPU twin
    labels.txt           one label per line
    contract.json        the model contract (edge.core.metadata), when the model has one
    sample/data.yaml     the labelled validation sample (YOLO: names + val split)
    sample/val/images/*, sample/val/labels/*.txt
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict, Field, field_validator

FORMAT = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
SAMPLE_DIR = "sample"
SAMPLE_SPLIT = "val"
# semver (https://semver.org): MAJOR.MINOR.PATCH[-pre][+build]; also a folder name on the box
VERSION_RE = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                        r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$")
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
_CHUNK = 1 << 20


def check_version(version: str) -> str:
    """``version`` when it is semver (1.3.0, 2.0.0-rc.1); ValueError naming it otherwise."""
    if not isinstance(version, str) or not VERSION_RE.match(version) or len(version) > 64:
        raise ValueError(f"version {version!r}: expected semver MAJOR.MINOR.PATCH, e.g. 1.3.0 "
                         "or 2.0.0-rc.1")
    return version


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def safe_relpath(name: str) -> str:
    """``name`` as a relative POSIX path inside a package; ValueError for absolute paths,
    ``..`` parts, backslashes or empty names (they could write outside the unpack folder)."""
    p = PurePosixPath(name)
    if (not name or name.startswith("/") or "\\" in name or p.is_absolute()
            or any(part in ("..", "") for part in name.split("/")) or re.match(r"^[A-Za-z]:", name)):
        raise ValueError(f"unsafe path {name!r} in package: expected a relative path without '..'")
    return str(p)


class FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)


class Figures(BaseModel):
    """Accuracy and speed of ``model`` on the bundled sample, measured when packaging with
    the device's own Detector (TFLite interpreter, CPU) at the evaluation operating point."""

    model_config = ConfigDict(extra="forbid")

    map50: float = Field(description="mAP@0.5 (pycocotools) on the sample")
    map: float = Field(description="mAP@[.5:.95] on the sample")
    per_class_ap50: dict[str, float] = Field(default_factory=dict)
    images: int = Field(ge=1, description="sample images scored")
    boxes: int = Field(ge=1, description="ground-truth boxes in the sample")
    score: float = Field(description="score threshold used (low: mAP needs the PR curve)")
    max_detections: int
    invoke_ms_median: float | None = Field(None, description="median interpreter invoke on the "
                                           "packaging machine (informative: boxes differ)")
    runtime: str = Field("", description="where the figures were measured (host, interpreter)")


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: int = FORMAT
    name: str = Field(description="model name, e.g. door")
    version: str
    created: str = Field(description="UTC time the package was made, ISO 8601")
    model: str = Field(description="the .tflite file")
    edgetpu_model: str | None = Field(None, description="its Edge TPU twin, when compiled")
    labels: str = Field(description="labels file, one per line")
    contract: str | None = Field(None, description="model contract JSON, when the model has one")
    sample: str = SAMPLE_DIR
    figures: Figures
    parity: dict | None = Field(None, description="conversion parity figures (float vs "
                                "converted mAP), from the model's contract or a convert report")
    source: dict = Field(default_factory=dict, description="where the package came from: "
                         "dataset, split, edge version")
    files: dict[str, FileEntry] = Field(description="every file but manifest.json and "
                                        "manifest.sig: relative path -> sha256 and size")

    @field_validator("format")
    @classmethod
    def _known_format(cls, v: int) -> int:
        if v > FORMAT:
            raise ValueError(f"package format {v} is newer than this edge ({FORMAT}); upgrade edge")
        return v

    @field_validator("version")
    @classmethod
    def _version(cls, v: str) -> str:
        return check_version(v)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError(f"name {v!r}: letters, digits, '.', '_' and '-' only")
        return v

    @field_validator("model", "edgetpu_model", "labels", "contract", "sample")
    @classmethod
    def _inside(cls, v: str | None) -> str | None:
        return None if v is None else safe_relpath(v)

    @field_validator("files")
    @classmethod
    def _paths(cls, v: dict[str, FileEntry]) -> dict[str, FileEntry]:
        for name in v:
            safe_relpath(name)
            if name in (MANIFEST, SIGNATURE):
                raise ValueError(f"files lists {name}, which cannot hash itself")
        return v

    def to_bytes(self) -> bytes:
        """The canonical bytes written as manifest.json (and signed)."""
        return (json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_bytes(cls, data: bytes, where: str = MANIFEST) -> Manifest:
        try:
            return cls.model_validate(json.loads(data))
        except ValueError as e:  # json and pydantic errors: one line naming the file
            first = str(e).replace("\n", " ")
            raise ValueError(f"{where}: not a valid package manifest: {first[:300]}") from e

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = Path(folder) / MANIFEST
        if not path.is_file():
            raise FileNotFoundError(f"{folder}: no {MANIFEST}")
        return cls.from_bytes(path.read_bytes(), str(path))

    def referenced(self) -> list[str]:
        """Files the manifest names by role; each must also be hashed in ``files``."""
        return [p for p in (self.model, self.edgetpu_model, self.labels, self.contract) if p]


def hash_tree(root: Path) -> dict[str, FileEntry]:
    """``files`` for every regular file under ``root`` (manifest and signature excluded)."""
    root = Path(root)
    out: dict[str, FileEntry] = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_symlink():
            raise ValueError(f"{p}: symlinks cannot go into a package")
        if p.is_file() and rel not in (MANIFEST, SIGNATURE):
            out[rel] = FileEntry(sha256=sha256_file(p), size=p.stat().st_size)
    return out


def verify_tree(root: Path, manifest: Manifest) -> None:
    """ValueError naming the first file that is missing, changed, or not in the manifest."""
    root = Path(root)
    for name in manifest.referenced():
        if name not in manifest.files:
            raise ValueError(f"{MANIFEST} names {name} but does not hash it")
    for name, entry in sorted(manifest.files.items()):
        p = root / name
        if not p.is_file() or p.is_symlink():
            raise ValueError(f"{name} is listed in {MANIFEST} but missing from the package")
        if p.stat().st_size != entry.size:
            raise ValueError(f"{name}: size {p.stat().st_size} bytes, manifest says {entry.size}")
        digest = sha256_file(p)
        if digest != entry.sha256:
            raise ValueError(f"{name}: sha256 {digest[:16]}... does not match the manifest's "
                             f"{entry.sha256[:16]}... (corrupt or altered)")
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if (p.is_file() or p.is_symlink()) and rel not in manifest.files \
                and rel not in (MANIFEST, SIGNATURE):
            raise ValueError(f"{rel} is in the package but not in {MANIFEST}")

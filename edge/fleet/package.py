"""``make_package``: one versioned model release a box can verify and install (``edge
package``). Needs no TensorFlow: the figures come from the device's own TFLite runtime.

The package (a gzip tar, layout in ``edge.fleet.manifest``) holds the model, its Edge TPU
twin, labels, the model contract, a small labelled sample of the validation split, the
mAP measured on that sample here, the conversion parity figures, and ``manifest.json``
with the sha256 of every file; ``manifest.sig`` when signed.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from edge import __version__
from edge.extras import install_command, missing_modules
from edge.fleet.manifest import (
    MANIFEST,
    NAME_RE,
    SAMPLE_DIR,
    SIGNATURE,
    Figures,
    Manifest,
    check_version,
    hash_tree,
)
from edge.fleet.sample import Measurement, load_sample, measure, pick_sample, write_sample

PACKAGE_SUFFIX = ".edgepkg"
DEFAULT_SAMPLE = 24
LABELS_FILE = "labels.txt"
CONTRACT_FILE = "contract.json"
_QUANT_SUFFIX = re.compile(r"[-_](int8|uint8|fp16|fp32|float32|float16|dynamic|quant|edgetpu)$")


@dataclass
class PackageResult:
    out: Path
    manifest: Manifest
    measurement: Measurement
    signed: bool = False

    def text(self) -> str:
        m, f = self.manifest, self.manifest.figures
        size = self.out.stat().st_size / 1024
        lines = [f"wrote {self.out} ({size:.0f} KiB): {m.name} {m.version}, "
                 f"{len(m.files)} files, {'signed' if self.signed else 'unsigned'}",
                 f"sample: {f.images} images, {f.boxes} boxes: mAP@0.5 {f.map50:.4f}  "
                 f"mAP@[.5:.95] {f.map:.4f}  invoke median "
                 + (f"{f.invoke_ms_median:.1f} ms" if f.invoke_ms_median is not None else "n/a")]
        if m.parity:
            lines.append("conversion parity: " + json.dumps(m.parity, sort_keys=True))
        return "\n".join(lines)


def default_name(model: Path) -> str:
    """``door_int8.tflite`` -> ``door``."""
    name = _QUANT_SUFFIX.sub("", Path(model).stem)
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", name) or "model"
    return _QUANT_SUFFIX.sub("", name)


def _check_tflite(path: Path, what: str) -> None:
    from edge.core.tflite_file import read_tflite

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    if path.suffix != ".tflite":
        raise ValueError(f"{what} {path}: expected a .tflite file")
    read_tflite(path)  # ModelFileError (a ValueError) for a file that is not a TFLite model


def _labels(model: Path, labels: Path | None) -> tuple[list[str], str]:
    """(labels, where from): the file when given, else the model's contract."""
    from edge.alerts.labels import model_labels

    names = model_labels(model, labels)
    if not names:
        raise ValueError(f"{model.name} has no labels in its metadata; pass --labels "
                         "(one per line, or 'id name')")
    return names, str(labels) if labels else "model metadata"


def _parity(contract: dict | None) -> dict | None:
    """The float-vs-converted figures ``edge convert`` stores in the contract's provenance
    (``validation``: float and converted mAP on the validation split, the drop and gate).
    convert writes no separate report file, so the contract is the one source."""
    if not contract:
        return None
    v = contract.get("provenance", {}).get("validation")
    return dict(v) if isinstance(v, dict) else None


def _sample(data: Path, split: str | None, names: list[str], n: int, fmt: str | None):
    from edge.datasets import available_splits, load_split
    from edge.datasets.load import names_own_classes
    from edge.evaluation.cli import default_eval_split

    data = Path(data)
    if not data.exists():
        raise FileNotFoundError(f"--data {data}: dataset not found")
    splits = available_splits(data, fmt)
    split = split or default_eval_split(splits)
    if split is None:
        raise ValueError(f"--data {data}: no split to sample among {splits}; pass --split")
    # the dataset's own class names, so model and sample pair by name; the model's only
    # for a YOLO folder that names none
    ds = load_split(data, split, fmt, None if names_own_classes(data, fmt) else names, "skip")
    ds.name = f"{data} [{split}]"
    return pick_sample(ds, n), split


def make_package(model: Path, data: Path, version: str, out: Path, *,
                 edgetpu_model: Path | None = None, labels: Path | None = None,
                 split: str | None = None, sample: int = DEFAULT_SAMPLE, name: str | None = None,
                 sign_key: Path | None = None, fmt: str | None = None) -> PackageResult:
    """Write the package ``out``; returns what went in and the figures measured.

    ValueError / FileNotFoundError for bad input (missing or non-TFLite model, no labels,
    no labelled image in the split, a version that is not semver)."""
    from edge.core.metadata import read_metadata

    check_version(version)
    name = name or default_name(model)
    if not NAME_RE.match(name):
        raise ValueError(f"--name {name!r}: letters, digits, '.', '_' and '-' only")
    model = Path(model)
    _check_tflite(model, "--model")
    if edgetpu_model is not None:
        _check_tflite(edgetpu_model, "--edgetpu-model")
        if Path(edgetpu_model).name == model.name:
            raise ValueError(f"--edgetpu-model {edgetpu_model}: same file name as --model")
    out = Path(out)
    if not out.parent.is_dir():
        raise FileNotFoundError(f"--out {out}: folder {out.parent} does not exist")
    if sign_key is not None:
        from edge.fleet.signing import check_available

        if not Path(sign_key).is_file():
            raise FileNotFoundError(f"--sign-key {sign_key}: private key not found")
        check_available()
    if missing_modules("pycocotools"):  # before any work: the figures cannot be measured
        raise RuntimeError(f"edge package measures the sample's mAP with pycocotools: "
                           f"{install_command('eval')}")
    names, labels_from = _labels(model, labels)
    md = read_metadata(model)
    contract = json.loads(md.to_json()) if md is not None else None
    chosen, split = _sample(data, split, names, sample, fmt)

    with tempfile.TemporaryDirectory(prefix="edgepkg-") as tmp:
        stage = Path(tmp)
        shutil.copyfile(model, stage / model.name)
        if edgetpu_model is not None:
            shutil.copyfile(edgetpu_model, stage / Path(edgetpu_model).name)
        (stage / LABELS_FILE).write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
        if contract is not None:
            (stage / CONTRACT_FILE).write_text(json.dumps(contract, indent=2) + "\n")
        write_sample(chosen, stage / SAMPLE_DIR)
        # measured on the files as packed, through the same runtime the box uses
        m = measure(stage / model.name, stage / LABELS_FILE, load_sample(stage / SAMPLE_DIR))
        from edge.backends.runtime import interpreter_module
        from edge.evaluation.cli import EVAL_MAX_DETECTIONS, EVAL_SCORE

        figures = Figures(map50=round(m.map50, 6), map=round(m.map, 6),
                          per_class_ap50={k: round(v, 6) for k, v in m.per_class_ap50.items()},
                          images=m.images, boxes=m.boxes, score=EVAL_SCORE,
                          max_detections=EVAL_MAX_DETECTIONS,
                          invoke_ms_median=(round(m.invoke_ms_median, 3)
                                            if m.invoke_ms_median is not None else None),
                          runtime=f"{platform.machine()} {interpreter_module()[0]} cpu")
        manifest = Manifest(
            name=name, version=version,
            created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            model=model.name, edgetpu_model=Path(edgetpu_model).name if edgetpu_model else None,
            labels=LABELS_FILE, contract=CONTRACT_FILE if contract is not None else None,
            figures=figures, parity=_parity(contract),
            source={"dataset": str(data), "split": split, "labels": labels_from,
                    "edge": __version__},
            files=hash_tree(stage))
        data_bytes = manifest.to_bytes()
        (stage / MANIFEST).write_bytes(data_bytes)
        if sign_key is not None:
            from edge.fleet.signing import sign

            (stage / SIGNATURE).write_bytes(sign(data_bytes, sign_key))
        write_tar(stage, out)
    return PackageResult(out, manifest, m, signed=sign_key is not None)


def write_tar(folder: Path, out: Path) -> None:
    """``folder``'s files as a gzip tar at ``out`` (members at the top level, manifest
    first so a reader sees it early, then sorted; owner and times zeroed so two packages
    of the same files differ only by the manifest's ``created``). Written to a temporary
    name and renamed: an interrupted run leaves no half package under ``out``."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    files.sort(key=lambda p: (p.name != MANIFEST, p.name != SIGNATURE, str(p)))
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        with tarfile.open(tmp, "w:gz") as tar:
            for p in files:
                info = tarfile.TarInfo(p.relative_to(folder).as_posix())
                info.size, info.mode, info.mtime = p.stat().st_size, 0o644, 0
                with open(p, "rb") as f:
                    tar.addfile(info, f)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_manifest(package: Path) -> tuple[Manifest, bytes | None]:
    """The manifest (and signature bytes) of a package file without unpacking it; for
    listing and for checking a download before install. Not a verification."""
    with tarfile.open(package, "r:*") as tar:
        try:
            data = tar.extractfile(MANIFEST)
        except KeyError as e:
            raise ValueError(f"{package}: no {MANIFEST}; not a model package") from e
        if data is None:
            raise ValueError(f"{package}: {MANIFEST} is not a file")
        manifest = Manifest.from_bytes(data.read(), f"{package}:{MANIFEST}")
        try:
            sig = tar.extractfile(SIGNATURE)
        except KeyError:
            sig = None
        return manifest, (sig.read() if sig is not None else None)



"""Real parts for the fleet tests: the shipped int8 shapes detector (edge/assets/default,
made by scripts/make_default_model.py with our own train + convert), synthetic shapes
images of the kind it was trained on (train.synth, 320x240, up to 3 shapes), packages made
by ``make_package`` from them, and ed25519 keys made by ``generate_keypair``.

Session-scoped: a package takes about a second (copy, sample mAP through the interpreter).
Tests that need a broken package rebuild one with ``repack`` (unpack, edit, re-hash, re-sign
when asked), the way an attacker or a bad disk would produce it.
"""

from __future__ import annotations

import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from edge.config import EdgeConfig, load_config
from edge.defaults import SHAPES_MODEL
from edge.fleet.manifest import MANIFEST, SIGNATURE, Manifest, hash_tree
from edge.fleet.package import PackageResult, make_package, write_tar

SAMPLE = 8  # sample images per package: enough for a stable mAP, fast to score


@pytest.fixture(scope="session")
def shapes_model() -> Path:
    return SHAPES_MODEL


@pytest.fixture(scope="session")
def shapes_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """YOLO root (data.yaml, train/, val/) of synthetic shapes the model finds (mAP@0.5 ~1)."""
    from train.synth import make_synthetic

    return make_synthetic(tmp_path_factory.mktemp("shapes"), n_train=2, n_val=12,
                          size_wh=(320, 240), max_objects=3, seed=3)


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{"private", "public"}: the fleet's key pair; {"other_private", "other_public"}: a
    second pair nobody configured."""
    from edge.fleet.signing import generate_keypair

    root = tmp_path_factory.mktemp("keys")
    private, public = generate_keypair(root / "fleet.pem")
    other, other_pub = generate_keypair(root / "other.pem")
    return {"private": private, "public": public, "other_private": other, "other_public": other_pub}


@pytest.fixture(scope="session")
def packages(tmp_path_factory: pytest.TempPathFactory, shapes_model: Path, shapes_data: Path,
             keys: dict[str, Path]) -> dict[str, PackageResult]:
    """"1.0.0", "1.1.0": unsigned; "1.2.0-signed": signed with the fleet key."""
    root = tmp_path_factory.mktemp("packages")
    out = {}
    for version, key in (("1.0.0", None), ("1.1.0", None), ("1.2.0", keys["private"])):
        name = version + ("-signed" if key else "")
        out[name] = make_package(shapes_model, shapes_data, version,
                                 root / f"shapes-{version}.edgepkg", sample=SAMPLE, sign_key=key)
    return out


def unpack_to(package: Path, dest: Path) -> Path:
    """A plain extraction for tests that edit a package (the installer has its own)."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(package) as tar:
        tar.extractall(dest, filter="data")
    return dest


def repack(package: Path, out: Path, edit: Callable[[Path, dict], None], *, rehash: bool = True,
           sign_key: Path | None = None, keep_signature: bool = False) -> Path:
    """``package`` unpacked, ``edit(folder, manifest_dict)`` applied, the manifest's file
    hashes recomputed (``rehash``) and re-signed with ``sign_key`` (or the old signature
    kept), written to ``out``."""
    work = out.with_suffix(".work")
    shutil.rmtree(work, ignore_errors=True)
    folder = unpack_to(package, work)
    data = Manifest.read(folder).model_dump(mode="json")
    edit(folder, data)
    if rehash:
        data["files"] = {k: v.model_dump() for k, v in hash_tree(folder).items()}
    raw = Manifest.model_validate(data).to_bytes()
    (folder / MANIFEST).write_bytes(raw)
    if sign_key is not None:
        from edge.fleet.signing import sign

        (folder / SIGNATURE).write_bytes(sign(raw, sign_key))
    elif not keep_signature:
        (folder / SIGNATURE).unlink(missing_ok=True)
    write_tar(folder, out)
    shutil.rmtree(work)
    return out


def weaken(model: Path, out: Path, fraction: float = 0.02, seed: int = 0) -> Path:
    """A real, weaker copy of ``model``: the sign of ``fraction`` of every CONV_2D layer's
    int8 weights flipped in place in the flatbuffer (same graph, contract and size). On
    the shapes sample 2% takes mAP@0.5 from ~1.0 to ~0.7."""
    import numpy as np

    from edge.core.tflite_file import read_tflite

    f = read_tflite(model)
    data = bytearray(model.read_bytes())
    rng = np.random.default_rng(seed)
    for op in f.operators:
        if op.opcode != "CONV_2D":
            continue
        raw = f._buffers[f.tensors[op.inputs[1]].buffer]
        at = bytes(data).find(raw)
        if at < 0 or bytes(data).find(raw, at + 1) >= 0:
            raise ValueError(f"{model}: cannot locate a weight buffer uniquely")
        w = np.frombuffer(raw, np.int8).copy()
        flip = rng.random(w.size) < fraction
        w[flip] = -w[flip]
        data[at:at + len(raw)] = w.tobytes()
    out.write_bytes(data)
    return out


@pytest.fixture
def make_config(tmp_path: Path, shapes_model: Path) -> Callable[..., EdgeConfig]:
    """``make_config(rules=[...], fleet={...}, **top)``: a device YAML written to tmp_path
    and loaded by the real loader; the store defaults to tmp_path/store."""

    def build(rules: list[dict] | None = None, fleet: dict | None = None, **top) -> EdgeConfig:
        data = {"device": "box1", "model": str(shapes_model),
                "fleet": {"store": str(tmp_path / "store"), **(fleet or {})}, **top}
        if rules is not None:
            data["rules"] = rules
        path = tmp_path / "box.yaml"
        path.write_text(yaml.safe_dump(data))
        return load_config(path)

    return build

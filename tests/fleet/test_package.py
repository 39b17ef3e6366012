"""``make_package``: a real package of the shipped shapes model with a sample of synthetic
shapes, its manifest hashes, the figures measured through the TFLite runtime, signatures,
and the one-line errors for bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edge.core.metadata import read_metadata
from edge.fleet.manifest import MANIFEST, SIGNATURE, Manifest, check_version, sha256_file, verify_tree
from edge.fleet.package import default_name, make_package, read_manifest
from edge.fleet.sample import load_sample, measure
from tests.fleet.conftest import SAMPLE, unpack_to


def test_round_trip_every_file_hashed_and_figures_present(packages, shapes_model: Path,
                                                          tmp_path: Path) -> None:
    result = packages["1.0.0"]
    folder = unpack_to(result.out, tmp_path / "pkg")
    m = Manifest.read(folder)
    assert m == result.manifest and m.version == "1.0.0" and m.name == "shapes"
    on_disk = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert on_disk == sorted([MANIFEST, *m.files])  # unsigned: no manifest.sig
    for name, entry in m.files.items():
        assert sha256_file(folder / name) == entry.sha256
        assert (folder / name).stat().st_size == entry.size
    verify_tree(folder, m)
    # the model byte for byte, its contract and labels
    assert sha256_file(folder / m.model) == sha256_file(shapes_model)
    contract = json.loads((folder / m.contract).read_text())
    assert contract == json.loads(read_metadata(shapes_model).to_json())
    assert (folder / m.labels).read_text().split() == ["square", "circle", "triangle"]
    # the sample: SAMPLE labelled images in YOLO format, readable by the dataset readers
    sample = load_sample(folder / m.sample)
    assert len(sample) == SAMPLE and all(len(s.class_ids) for s in sample.samples)
    assert len(list((folder / "sample/val/labels").glob("*.txt"))) == SAMPLE
    # figures measured here: the shapes model finds synthetic shapes
    f = m.figures
    assert f.images == SAMPLE and f.boxes >= SAMPLE
    assert f.map50 > 0.9 and 0.5 < f.map <= f.map50
    assert set(f.per_class_ap50) <= {"square", "circle", "triangle"} and f.per_class_ap50
    assert f.invoke_ms_median is not None and f.invoke_ms_median > 0
    assert f.score == 0.01 and f.max_detections == 100
    # a second measurement of the packed files gives the same figure (what the box redoes)
    again = measure(folder / m.model, folder / m.labels, sample)
    assert again.map50 == pytest.approx(f.map50, abs=1e-6)
    # conversion parity comes from the contract edge convert wrote
    assert m.parity is not None and m.parity["map50"] == contract["provenance"]["validation"]["map50"]
    assert m.source["split"] == "val"


def test_read_manifest_without_unpacking(packages) -> None:
    m, sig = read_manifest(packages["1.0.0"].out)
    assert m.version == "1.0.0" and sig is None
    m2, sig2 = read_manifest(packages["1.2.0-signed"].out)
    assert m2.version == "1.2.0" and sig2 is not None and len(sig2) == 64


def test_signature_verifies_with_its_public_key_only(packages, keys, tmp_path: Path) -> None:
    from edge.fleet.signing import SignatureError, verify

    folder = unpack_to(packages["1.2.0-signed"].out, tmp_path / "pkg")
    data, sig = (folder / MANIFEST).read_bytes(), (folder / SIGNATURE).read_bytes()
    verify(data, sig, keys["public"])
    with pytest.raises(SignatureError, match="does not verify"):
        verify(data, sig, keys["other_public"])
    with pytest.raises(SignatureError, match="does not verify"):
        verify(data.replace(b'"1.2.0"', b'"1.2.1"'), sig, keys["public"])
    with pytest.raises(SignatureError, match="unsigned"):
        verify(data, None, keys["public"])
    with pytest.raises(ValueError, match="not an ed25519 public key"):
        verify(data, sig, keys["private"])  # a private key where the public one belongs


def test_edgetpu_twin_is_packed(shapes_model: Path, shapes_data: Path, tmp_path: Path) -> None:
    # No Edge TPU compiler here: the "twin" is a copy of the CPU model under the compiler's
    # file name. What is tested is that the package carries and hashes it.
    twin = tmp_path / "shapes_int8_edgetpu.tflite"
    shutil.copyfile(shapes_model, twin)
    r = make_package(shapes_model, shapes_data, "2.0.0-rc.1", tmp_path / "p.edgepkg",
                     edgetpu_model=twin, sample=2, name="door")
    assert r.manifest.edgetpu_model == twin.name and twin.name in r.manifest.files
    assert r.manifest.name == "door" and r.manifest.version == "2.0.0-rc.1"


def test_labels_file_overrides_metadata(shapes_model: Path, shapes_data: Path, tmp_path: Path) -> None:
    labels = tmp_path / "names.txt"
    labels.write_text("0 square\n1 circle\n2 triangle\n")
    r = make_package(shapes_model, shapes_data, "1.0.1", tmp_path / "p.edgepkg", labels=labels,
                     sample=2)
    assert r.manifest.source["labels"] == str(labels)
    assert r.manifest.figures.map50 > 0.9


@pytest.mark.parametrize("version", ["1.3", "v1.3.0", "1.3.0/../x", "01.2.3", "", "1.3.0 "])
def test_bad_version_strings(version: str) -> None:
    with pytest.raises(ValueError, match="expected semver"):
        check_version(version)


def test_bad_input_is_one_clear_error(shapes_model: Path, shapes_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.edgepkg"
    with pytest.raises(FileNotFoundError, match="--model .*not found"):
        make_package(tmp_path / "nope.tflite", shapes_data, "1.0.0", out)
    txt = tmp_path / "model.txt"
    txt.write_text("hello")
    with pytest.raises(ValueError, match="expected a .tflite file"):
        make_package(txt, shapes_data, "1.0.0", out)
    fake = tmp_path / "fake.tflite"
    fake.write_bytes(b"not a flatbuffer at all" * 4)
    with pytest.raises(ValueError, match="fake.tflite"):
        make_package(fake, shapes_data, "1.0.0", out)
    with pytest.raises(ValueError, match="expected semver"):
        make_package(shapes_model, shapes_data, "1.3", out)
    with pytest.raises(FileNotFoundError, match="folder .* does not exist"):
        make_package(shapes_model, shapes_data, "1.0.0", tmp_path / "no" / "p.edgepkg")
    assert not out.exists()


def test_no_labelled_image_is_refused(shapes_model: Path, shapes_data: Path, tmp_path: Path) -> None:
    data = tmp_path / "unlabelled"
    shutil.copytree(shapes_data, data)
    for txt in (data / "val" / "labels").glob("*.txt"):
        txt.write_text("")
    with pytest.raises(ValueError, match="no labelled image"):
        make_package(shapes_model, data, "1.0.0", tmp_path / "p.edgepkg")


def test_foreign_model_without_labels_needs_labels(ssd_dir: Path, shapes_data: Path,
                                                   tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="pass --labels"):
        make_package(ssd_dir / "ssd_mobilenet_v1_coco_quant.tflite", shapes_data, "1.0.0",
                     tmp_path / "p.edgepkg")


def test_default_name() -> None:
    assert default_name(Path("door_int8.tflite")) == "door"
    assert default_name(Path("door_int8_edgetpu.tflite")) == "door"
    assert default_name(Path("runs/yard-fp16.tflite")) == "yard"

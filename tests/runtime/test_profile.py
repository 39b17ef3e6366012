"""edge profile on real models and data (published SSD v1 on the raccoon test split)."""

import csv
import json

import cv2
from click.testing import CliRunner

from edge.cli import cli


def test_profile_published_ssd_without_metadata_and_a_bad_model(tmp_path, ssd_dir, shared_data):
    broken = tmp_path / "broken.tflite"
    broken.write_bytes((ssd_dir / "ssd_mobilenet_v1_coco_quant.tflite").read_bytes()[:50_000])
    out = tmp_path / "prof"
    res = CliRunner().invoke(cli, [
        "-q", "profile", "--models", str(ssd_dir / "ssd_mobilenet_v1_coco_quant.tflite"), str(broken),
        "--labels", str(ssd_dir / "labelmap.txt"), "--data", str(shared_data / "raccoon"),
        "--max-images", "12", "--repeats", "2", "--threads", "2",
        "--map-label", "bear=raccoon", "--map-label", "teddy bear=raccoon", "--map-label", "dog=raccoon",
        "--map-label", "cat=raccoon", "--out", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads((out / "profile.json").read_text())
    good, bad = data["variants"]
    assert good["ok"] and good["decoder"] == "postprocess" and good["map50"] > 0.3
    assert good["fps"] > 0 and good["latency_ms"]["invoke"]["p50"] > 0 and good["size_mb"] > 3
    assert not bad["ok"] and "broken.tflite: truncated or corrupt" in bad["error"]
    assert data["recommendation"]["variant"] == good["name"]
    assert "FAILED: ModelFileError" in res.output and "recommended:" in res.output
    with open(out / "profile.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["ok"] for r in rows] == ["True", "False"]
    img = cv2.imread(str(out / "profile.png"))
    assert img is not None and img.shape == (550, 800, 3)

"""Every variant `edge convert` writes, from the suite's CI-trained models
(tests/shared_models.py), through the real TF converter and the device runtime
(edge.detector.Detector, `edge run`), compared with the float Keras model
(train.keras_detector.KerasDetector — the runner training and `edge eval` use).

Agreement bars: fp32/fp16 — every Keras detection (score >= COMPARE_SCORE) has a converted
one of the same class with IoU >= 0.9 (searched down to half that score, so a score
crossing the threshold by rounding is not a miss, and among the other side's candidates
before NMS, see below), and vice versa. int8 and dynamic-range
(8-bit weights) — at least 90% matched at IoU >= 0.75 (documented in docs/convert.md:
8-bit boxes move by about one quantization step of the box encodings, a few pixels at 96 px),
each kept box likewise searched among the other model's candidates before NMS.

The comparison threshold is low because the models are trained for seconds: agreement of
a converted model with its Keras model needs detections, not an accurate model. The
tiny-YOLO's best boxes score 0.1-0.5 after its budget; the SSD (MobileNetV2, slower per
step, and its training still being fixed) has not learnt the shapes yet (val mAP ~0) but
its scores already vary per box (~0.1-0.4), which is all the comparison needs. Its many
near-tied, overlapping low-score boxes are what int8 disturbs most: a score step of the
uint8 output (~0.004) reorders near-ties and NMS then keeps a neighbour, so at 0.15 int8
would sit right at the 90% bar if kept boxes were compared with kept boxes (the tiny-YOLO's
low scores too). So for 8-bit variants a kept box is looked for among the other model's
candidates (same decoder, NMS off): the boxes must agree, the NMS survivors among
near-ties need not.

TFLite_Detection_PostProcess as we fuse it (use_regular_nms=false) suppresses across
classes; our decoders' NMS is per class unless asked otherwise. The fused SSD is therefore
compared with the Keras detections after class-agnostic NMS, and with the raw int8 SSD
decoded by edge.decoders in class-agnostic mode (``Detector.load(class_agnostic=True)``).
A confident model hardly ever has overlapping boxes of different classes, so the modes
agree there; this barely trained SSD has many.
"""

from __future__ import annotations

import json

import cv2
import pytest

from convert.source import load_run
from edge.core.metadata import read_metadata
from edge.core.nms import nms
from edge.detector import Detector
from tests.convert.conftest import edge_cli, matched
from tests.shared_models import split_variant
from train.keras_detector import KerasDetector

pytestmark = pytest.mark.slow

# SSD: the brief minimum (fp32, int8, fused). The other modes are checked on the tiny-YOLO,
# whose conversion takes a quarter of the MobileNetV2 SSD's.
VARIANTS = ["ssd-fp32", "ssd-int8", "ssd-int8-fused",
            "tiny-yolo-fp32", "tiny-yolo-fp16", "tiny-yolo-dynamic", "tiny-yolo-int8",
            "tiny-yolo-int8-int8io", "tiny-yolo-int8-floathead"]
COMPARE_SCORE = {"ssd": 0.2, "tiny-yolo": 0.1}


ALL = 100_000  # max_detections that keeps every candidate


def _images(tiny_dataset):
    return [cv2.imread(str(p)) for p in sorted((tiny_dataset / "val" / "images").glob("*.png"))]


_KERAS: dict[tuple[str, float], tuple[list, list]] = {}


def _keras_detections(run, low: float, images) -> tuple[list, list]:
    """The float model per image: (kept after NMS, every candidate >= low), once per run."""
    key = (str(run.run_dir), low)
    if key not in _KERAS:
        kept = KerasDetector(run.model, run.metadata, score=low,
                             max_detections=run.metadata.thresholds.max_detections)
        every = KerasDetector(run.model, run.metadata, score=low, iou=1.0, max_detections=ALL)
        _KERAS[key] = (kept.detect_batch(images), every.detect_batch(images))
    return _KERAS[key]


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_agrees_with_keras(name, tiny_tflite, tiny_runs, tiny_dataset):
    path = tiny_tflite[name]
    arch, variant = split_variant(name)
    run = load_run(tiny_runs[arch])
    md = read_metadata(path)
    assert md is not None and md.labels == run.metadata.labels
    assert md.provenance["quantization"] == variant.split("-")[0]
    assert "map50" in md.provenance["validation"]  # parity ran and was recorded
    if "floathead" in variant:  # selective quantization keeps float I/O
        assert md.input.dtype == "float32" and md.provenance["float_head"] is True
    elif "int8" in variant:
        assert md.input.dtype == ("int8" if "int8io" in variant else "uint8")
        assert md.input.quant_scale and md.input.quant_scale > 0
    else:
        assert md.input.dtype == "float32"
    if "fused" in variant:
        assert md.decoder.type == "postprocess"
        assert md.decoder.output_order == ("detection_boxes", "detection_classes",
                                           "detection_scores", "num_detections")
    score = COMPARE_SCORE[arch]
    low = score / 2
    det = Detector.load(path, score=low)  # no decoder/resize flags: the record says it all
    eight_bit = "int8" in variant or "dynamic" in variant
    iou_min, share = (0.75, 0.9) if eight_bit else (0.9, 1.0)
    want_kept, want_all = _keras_detections(run, low, _images(tiny_dataset))
    # A kept box's counterpart may be among the other side's NMS-suppressed candidates:
    # near-tied neighbours reorder under 8-bit rounding, and even fp32 XNNPACK vs Keras
    # flips ties between the many overlapping low-score boxes of these barely trained
    # models (module docstring). The fused op gives no candidates: Keras -> fused compares
    # kept boxes.
    cand = (Detector.load(path, score=low, iou=1.0, max_detections=ALL)
            if "fused" not in variant else det)
    hits = total = back = back_total = 0
    for img, kept, every in zip(_images(tiny_dataset), want_kept, want_all):
        if "fused" in variant:  # the op's NMS is class-agnostic (module docstring)
            kept = nms(kept, run.metadata.thresholds.iou, class_aware=False)
        got = det.detect(img)
        h, n = matched(kept[kept.scores >= score], cand.detect(img) if cand is not det else got, iou_min)
        hits, total = hits + h, total + n
        h, n = matched(got[got.scores >= score], every, iou_min)
        back, back_total = back + h, back_total + n
    assert total >= 4, f"the Keras model should give detections at score {score}"
    assert hits >= share * total, f"{name}: {hits}/{total} Keras detections matched"
    assert back >= share * back_total, f"{name}: {back}/{back_total} converted detections matched"


def test_fused_and_raw_ssd_detect_the_same(tiny_tflite, tiny_dataset):
    score = COMPARE_SCORE["ssd"]
    fused = Detector.load(tiny_tflite["ssd-int8-fused"], score=score)
    raw_q = Detector.load(tiny_tflite["ssd-int8"], score=score, class_agnostic=True)  # the op's NMS
    assert fused.decoder.name == "postprocess" and raw_q.decoder.name == "ssd"
    n = 0
    for img in _images(tiny_dataset):
        a, b = raw_q.detect(img), fused.detect(img)
        # same int8 graph; the op's decode+NMS vs ours: identical boxes up to float rounding
        assert len(a) == len(b)
        assert matched(a, b, 0.98) == (len(a), len(a))
        n += len(a)
    assert n >= 4


def test_edge_run_loads_every_variant(tiny_tflite, tiny_dataset, tmp_path):
    folder = tiny_dataset / "val" / "images"
    for name in VARIANTS:
        out = tmp_path / f"{name}.jsonl"
        res = edge_cli("run", "--model", str(tiny_tflite[name]), "--source", str(folder),
                       "--jsonl", str(out), "--max-frames", "3")
        assert res.exit_code == 0, f"{name}: {res.output}"
        rows = [json.loads(ln) for ln in out.read_text().splitlines() if ln.strip()]
        assert len(rows) == 3, name


def test_float_head_keeps_only_the_head_in_float(tiny_tflite, tiny_runs):
    """--float-head: the backbone's convs stay int8, the output head's convs run in float."""
    from edge.core.tflite_file import parse_tflite

    f = parse_tflite(tiny_tflite["tiny-yolo-int8-floathead"].read_bytes())
    head_names = list(load_run(tiny_runs["tiny-yolo"]).model.output_names)
    convs = [op for op in f.operators if op.opcode == "CONV_2D"]
    in_head = [op for op in convs if any(f"/{n}_" in f.tensors[op.outputs[0]].name for n in head_names)]
    body = [op for op in convs if op not in in_head]
    assert len(in_head) == 2 * len(head_names)  # a box conv and a score conv per output
    assert all(f.tensors[op.outputs[0]].dtype == "float32" for op in in_head)
    assert body and all(f.tensors[op.outputs[0]].dtype == "int8" for op in body)

"""One Detector over any Backend; decoders built from the signature; one decoder-name table."""

from __future__ import annotations

import dataclasses
import typing

import cv2
import numpy as np
import pytest

from edge.backends.base import Signature
from edge.backends.tflite import TfliteBackend
from edge.decoders.names import DECODER_NAMES
from edge.detector import Detector, LoadOptions


@pytest.fixture(scope="module")
def ssd_model(ssd_dir):
    return ssd_dir / "ssd_mobilenet_v1_coco_quant.tflite"


class RecordedBackend:
    """A second, real Backend: replays outputs a TFLite interpreter produced."""

    def __init__(self, signature: Signature, outputs: list[np.ndarray]) -> None:
        self.signature = signature
        self.outputs = outputs
        self.seen: list[np.ndarray] = []

    def invoke(self, batch: np.ndarray) -> list[np.ndarray]:
        self.seen.append(batch)
        return self.outputs


def test_detector_runs_any_backend_the_same_way(ssd_model, ssd_dir):
    img = cv2.imread(str(ssd_dir / "cats_and_dogs.jpg"))
    tflite = Detector.load(ssd_model, ssd_dir / "labelmap.txt")
    tensor, _ = tflite.preprocess(img)
    replay = RecordedBackend(tflite.backend.signature, tflite.backend.invoke(tensor))
    other = Detector.from_backend(replay, None, LoadOptions(labels=ssd_dir / "labelmap.txt"))
    want, got = tflite.detect(img), other.detect(img)
    np.testing.assert_array_equal(replay.seen[0], tensor[None])
    np.testing.assert_array_equal(got.xyxy, want.xyxy)
    assert got.label_names == want.label_names


def test_detect_with_timings_reports_every_stage_and_takes_a_prepared_input(ssd_model, ssd_dir):
    det = Detector.load(ssd_model, ssd_dir / "labelmap.txt")
    img = cv2.imread(str(ssd_dir / "cat.bmp"))
    dets, t = det.detect_with_timings(img)
    assert set(t) == {"preprocess", "invoke", "decode", "nms"}
    again, t2 = det.detect_with_timings(img, det.preprocess(img), 1.5)
    assert t2["preprocess"] == 1.5
    np.testing.assert_array_equal(again.xyxy, dets.xyxy)


def test_tflite_signature_and_input_checks(ssd_model):
    b = TfliteBackend(ssd_model)
    sig = b.signature
    assert sig.input_wh == (300, 300) and sig.max_batch == 1 and sig.graph is b.file
    assert len(sig.outputs) == 4 and all(s.name in sig.positions() for s in sig.outputs)
    with pytest.raises(ValueError, match="model expects uint8"):
        b.invoke(np.zeros((300, 300, 3), np.float32))


def test_raw_head_is_returned_as_extra_outputs(ssd_model):
    from edge.decoders.ssd import FusedHeadSsdDecoder, find_postprocess_head

    head = find_postprocess_head(TfliteBackend(ssd_model).file)
    b = TfliteBackend(ssd_model, extra_outputs=(head.boxes_tensor, head.scores_tensor))
    dec = FusedHeadSsdDecoder.from_signature(b.signature, head)
    assert (dec.boxes_index, dec.scores_index) == (4, 5)
    outs = b.invoke(np.zeros((300, 300, 3), np.uint8))
    assert outs[4].shape[-2:] == (1917, 4) and outs[5].shape[-2:] == (1917, 91)
    with pytest.raises(ValueError, match="extra_outputs"):
        FusedHeadSsdDecoder.from_signature(TfliteBackend(ssd_model).signature, head)


def test_load_options_are_checked_and_keywords_still_work(ssd_model):
    with pytest.raises(ValueError, match="decoder must be one of"):
        LoadOptions(decoder="yolo9")
    with pytest.raises(TypeError):
        Detector.load(ssd_model, scroe=0.3)  # a misspelt option is an error, not ignored
    det = Detector.load(ssd_model, options=LoadOptions(score=0.3, resize="letterbox"))
    assert det.settings.score == 0.3 and det.settings.resize == "letterbox"


def test_decoder_names_come_from_one_table():
    from edge.cli import run_command
    from edge.config import EdgeConfig

    flag = next(p for p in run_command.params if p.name == "decoder")
    assert tuple(flag.type.choices) == DECODER_NAMES
    literal = next(a for a in typing.get_args(EdgeConfig.model_fields["decoder"].annotation) if a)
    assert typing.get_args(literal) == DECODER_NAMES


def test_every_run_flag_names_a_settings_field():
    from edge.app import RunSettings
    from edge.cli import run_command, with_flags

    fields = {f.name for f in dataclasses.fields(RunSettings)}
    # the config file and the summary format are how to run, not run settings
    flags = {p.name for p in run_command.params if p.name not in ("config_path", "summary_json")}
    assert flags <= fields, flags - fields
    s = with_flags(RunSettings(model="m.tflite"), {"stats_interval_s": 2.0, "score": None})
    assert s.stats_interval_s == 2.0 and s.score is None
    with pytest.raises(TypeError):
        with_flags(s, {"stats_interval": 2.0})

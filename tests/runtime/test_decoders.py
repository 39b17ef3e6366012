"""Decoders on controlled outputs, labels handling, and the Edge TPU delegate error."""

import itertools

import numpy as np
import pytest

from edge.backends.tflite import TfliteBackend
from edge.core.labels import PLACEHOLDER, label_offset_for, load_labels
from edge.core.metadata import read_metadata
from edge.decoders.postprocess import PostprocessDecoder
from edge.decoders.yolo import EndToEndDecoder, YoloV5Decoder, YoloV8Decoder


def fused_outputs():
    boxes = np.zeros((1, 10, 4), np.float32)
    boxes[0, :3] = [[0.1, 0.2, 0.5, 0.6], [0.0, 0.0, 0.3, 0.3], [0.5, 0.5, 0.9, 0.8]]  # yxyx
    classes = np.zeros((1, 10), np.float32)
    classes[0, :3] = [16, 0, 17]
    scores = np.zeros((1, 10), np.float32)
    scores[0, :3] = [0.91, 0.55, 0.32]
    return {"boxes": boxes, "classes": classes, "scores": scores, "count": np.array([3.0], np.float32)}


@pytest.mark.parametrize("order", list(itertools.permutations(["boxes", "classes", "scores", "count"])))
def test_postprocess_outputs_identified_by_shape_and_value_in_any_order(order):
    outs = fused_outputs()
    dec = PostprocessDecoder([outs[k].shape for k in order])
    d = dec([outs[k] for k in order], 0.3)
    assert d.class_ids.tolist() == [16, 0, 17]
    np.testing.assert_allclose(d.scores, [0.91, 0.55, 0.32])
    np.testing.assert_allclose(d.xyxy[0], [0.2, 0.1, 0.6, 0.5])  # yxyx -> xyxy
    assert dec.roles == {k: order.index(k) for k in order}


def test_postprocess_undecidable_frame_reports_nothing_rather_than_guessing():
    outs = fused_outputs()
    outs["scores"][0, :3] = [1.0, 1.0, 0.0]  # whole numbers, like class ids
    outs["classes"][0, :3] = [1, 0, 1]
    order = ["scores", "boxes", "classes", "count"]
    dec = PostprocessDecoder([outs[k].shape for k in order])
    assert len(dec([outs[k] for k in order], 0.0)) == 0 and dec.roles is None


def test_yolov5_rows_normalized_and_pixel():
    rows = np.zeros((1, 6, 5 + 3), np.float32)
    rows[0, 0] = [0.5, 0.5, 0.2, 0.4, 0.9, 0.1, 0.8, 0.1]  # obj .9 x cls1 .8 = .72
    rows[0, 1] = [0.2, 0.2, 0.1, 0.1, 0.2, 0.9, 0.0, 0.0]  # .18: below threshold
    d = YoloV5Decoder((640, 640), 3)(rows, 0.25)
    assert d.class_ids.tolist() == [1] and d.scores[0] == pytest.approx(0.72)
    np.testing.assert_allclose(d.xyxy[0], [0.4, 0.3, 0.6, 0.7], atol=1e-6)
    px = rows.copy()
    px[0, :, :4] *= 640
    d2 = YoloV5Decoder((640, 640), 3)(px, 0.25)
    np.testing.assert_allclose(d2.xyxy, d.xyxy, atol=1e-6)


def test_yolov8_columns():
    cols = np.zeros((1, 4 + 2, 5), np.float32)
    cols[0, :, 3] = [320, 160, 64, 32, 0.1, 0.7]
    d = YoloV8Decoder((640, 640), 2)(cols, 0.5)
    assert d.class_ids.tolist() == [1] and d.scores[0] == pytest.approx(0.7)
    np.testing.assert_allclose(d.xyxy[0], [0.45, 0.225, 0.55, 0.275], atol=1e-6)


def test_end_to_end_rows():
    rows = np.array([[[0.1, 0.1, 0.4, 0.5, 0.8, 2], [0, 0, 0, 0, 0.0, 0]]], np.float32)
    d = EndToEndDecoder((320, 320))(rows, 0.25)
    assert len(d) == 1 and d.class_ids[0] == 2
    assert not EndToEndDecoder((320, 320)).needs_nms


def test_labels_placeholders_pairs_yaml_and_offset(ssd_dir, yolo_dir, tmp_path):
    coco90 = load_labels(ssd_dir / "labelmap.txt")
    assert coco90[16] == "cat" and coco90[11] == PLACEHOLDER and coco90[0] == "person"
    assert load_labels(yolo_dir / "coco.yaml")[5] == "bus"
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("0 person\n2 car\n3: motorbike\n")
    assert load_labels(pairs) == ["person", PLACEHOLDER, "car", "motorbike"]
    bg = ["background", "cat", "dog"]
    assert label_offset_for(bg, 2) == 1 and label_offset_for(["cat", "dog"], 2) == 0
    with pytest.raises(FileNotFoundError, match="labels file not found"):
        load_labels(tmp_path / "missing.txt")


def test_foreign_models_have_no_edge_contract(ssd_dir):
    assert read_metadata(ssd_dir / "ssd_mobilenet_v1_coco_quant.tflite") is None
    assert read_metadata(ssd_dir / "ssd_mobilenet_v1_coco_quant_metadata.tflite") is None


def test_edgetpu_delegate_absent_says_what_to_install(ssd_dir):
    with pytest.raises(RuntimeError, match="libedgetpu1-std"):
        TfliteBackend(ssd_dir / "ssd_mobilenet_v1_coco_quant.tflite", delegate="edgetpu")


def test_boxes_in_the_letterbox_padding_are_dropped(yolo_dir):
    """A box decoded wholly inside the padding clips to zero area in the frame: dropped."""
    import cv2

    from edge.detector import Detector

    det = Detector.load(yolo_dir / "yolov5n-int8.tflite", labels=yolo_dir / "coco.yaml", score=0.25)
    img = cv2.imread(str(yolo_dir / "zidane.jpg"))  # 1280x720: 140 px of padding top and bottom
    _, tf = det.preprocess(img)
    rows = np.zeros((1, 25200, 85), np.float32)
    rows[0, 0, :6] = [0.5, 0.05, 0.2, 0.05, 0.9, 0.9]  # centred in the top padding band
    rows[0, 1, :6] = [0.5, 0.5, 0.2, 0.2, 0.9, 0.9]  # in the picture
    d = det.postprocess([rows], tf)
    assert len(d) == 1 and np.all(d.xyxy[:, 2:] > d.xyxy[:, :2])

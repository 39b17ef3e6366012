"""The Keras runner is the shared Detector over a KerasBackend: batches and single images
agree, and they match decoding the raw heads by hand (the former private Keras branch)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from edge.core.metadata import InputSpec, ModelMetadata, SsdDecoderSpec, Thresholds  # noqa: E402
from edge.core.model_input import InputLayout, model_input  # noqa: E402
from edge.core.nms import nms  # noqa: E402
from edge.decoders.ssd import decode_ssd  # noqa: E402
from edge.detector import to_frame  # noqa: E402
from train.keras_detector import KerasDetector  # noqa: E402

GRID = 4  # anchors: one per cell of a 4x4 grid


def _tiny_ssd() -> tuple[keras.Model, ModelMetadata]:
    keras.utils.set_random_seed(0)
    inp = keras.Input((32, 32, 3), name="image")
    x = keras.layers.AveragePooling2D(8)(inp)  # (4, 4, 3)
    boxes = keras.layers.Reshape((GRID * GRID, 4), name="boxes")(keras.layers.Conv2D(4, 1)(x))
    scores = keras.layers.Reshape((GRID * GRID, 3), name="scores")(
        keras.layers.Conv2D(3, 1, activation="sigmoid")(x))
    cells = (np.arange(GRID) + 0.5) / GRID
    anchors = [(cx, cy, 0.3, 0.3) for cy in cells for cx in cells]
    md = ModelMetadata(labels=["a", "b"], input=InputSpec(size_wh=(32, 32)),
                       decoder=SsdDecoderSpec(anchors_cxcywh=anchors, score_activation="none",
                                              boxes_output="boxes", scores_output="scores"),
                       thresholds=Thresholds(score=0.05, iou=0.5, max_detections=20))
    return keras.Model(inp, [boxes, scores]), md


def test_keras_detector_is_the_shared_detector(ssd_dir):
    model, md = _tiny_ssd()
    kd = KerasDetector(model, md)
    images = [cv2.imread(str(ssd_dir / n)) for n in ("cats_and_dogs.jpg", "cat.bmp", "grace_hopper.bmp")]
    batch = kd.detect_batch(images)
    layout = InputLayout.from_spec(md.input)
    anchors = np.asarray(md.decoder.anchors_cxcywh, np.float32)
    for img, got in zip(images, batch):
        one = kd.detect(img)
        np.testing.assert_allclose(one.xyxy, got.xyxy, atol=1e-5)
        x, tf = model_input(img, layout)
        b, s = (np.asarray(o) for o in model(x[None], training=False))
        want = to_frame(nms(decode_ssd(b[0], s[0], anchors, md.decoder, 0.05), 0.5, True, 20), tf,
                        ("a", "b"))
        assert len(want) > 0
        np.testing.assert_allclose(got.xyxy, want.xyxy, atol=1e-5)
        np.testing.assert_array_equal(got.class_ids, want.class_ids)
    assert kd.detector.backend.signature.max_batch is None

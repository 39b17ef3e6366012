import numpy as np
import pytest

from edge.core.anchors import BoxCoder, SsdAnchorSpec, anchors_from_yxhw, ssd_anchors
from edge.core.boxes import Detections, iou_matrix
from edge.core.nms import nms, nms_indices
from edge.core.tflite_file import read_tflite


def reference_nms(boxes, scores, thr, classes=None):
    """The textbook loop, one pair at a time."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    keep = []
    for i in order:
        ok = True
        for k in keep:
            if classes is not None and classes[i] != classes[k]:
                continue
            if iou_matrix(boxes[i:i + 1], boxes[k:k + 1])[0, 0] > thr:
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


@pytest.mark.parametrize("n", [0, 1, 5, 200, 2000])
@pytest.mark.parametrize("class_aware", [False, True])
def test_nms_matches_reference(n, class_aware):
    rng = np.random.default_rng(n + class_aware)
    xy = rng.uniform(0, 0.8, (n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(0.02, 0.3, (n, 2))], 1).astype(np.float32)
    scores = rng.uniform(0, 1, n).astype(np.float32)
    classes = rng.integers(0, 4, n) if class_aware else None
    got = nms_indices(boxes, scores, 0.5, classes)
    if n <= 200:
        assert got.tolist() == reference_nms(boxes, scores, 0.5, classes)
    # no two kept boxes of the same class overlap beyond the threshold
    kept = boxes[got]
    iou = iou_matrix(kept, kept)
    same = np.ones_like(iou, bool) if classes is None else classes[got][:, None] == classes[got][None]
    np.fill_diagonal(iou, 0)
    assert not np.any((iou > 0.5) & same)


def test_nms_ties_keep_input_order_and_max_detections():
    boxes = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3]], np.float32)
    scores = np.array([0.5, 0.5, 0.5], np.float32)
    assert nms_indices(boxes, scores, 0.5).tolist() == [0, 2]
    assert nms_indices(boxes, scores, 0.5, max_detections=1).tolist() == [0]
    d = nms(Detections.empty(), 0.5)
    assert len(d) == 0


def test_ssd_anchor_generator_reproduces_published_model_anchors(ssd_dir):
    model = read_tflite(ssd_dir / "ssd_mobilenet_v1_coco_quant.tflite")
    op = next(o for o in model.operators if o.opcode == "TFLite_Detection_PostProcess")
    stored = anchors_from_yxhw(model.constant(op.inputs[2]))
    spec = SsdAnchorSpec(((19, 19), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1)))
    ours = ssd_anchors(spec)
    assert ours.shape == stored.shape == (1917, 4)
    # stored anchors are uint8-quantized: equal within one quantization step
    step = float(model.tensors[op.inputs[2]].scale[0])
    assert np.abs(ours - stored).max() <= step


def test_box_coder_round_trip():
    spec = SsdAnchorSpec(((4, 4), (2, 2)))
    anchors = ssd_anchors(spec)
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 0.6, (len(anchors), 2))
    boxes = np.concatenate([xy, xy + rng.uniform(0.05, 0.4, (len(anchors), 2))], 1).astype(np.float32)
    coder = BoxCoder()
    np.testing.assert_allclose(coder.decode(coder.encode(boxes, anchors), anchors), boxes, atol=1e-5)

"""Raw SSD heads: box encodings + class scores + anchors -> detections (pre-NMS)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.backends.base import Signature
from edge.core.anchors import BoxCoder, SsdAnchorSpec, anchors_from_yxhw, ssd_anchors
from edge.core.boxes import Detections
from edge.core.metadata import SsdDecoderSpec
from edge.core.tflite_file import TfliteFile
from edge.decoders.base import top_class


def _activate(scores: np.ndarray, activation: str) -> np.ndarray:
    if activation == "sigmoid":
        return 1.0 / (1.0 + np.exp(-scores))
    if activation == "softmax":
        e = np.exp(scores - scores.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return scores


def decode_ssd(
    encodings: np.ndarray,
    scores: np.ndarray,
    anchors_cxcywh: np.ndarray,
    spec: SsdDecoderSpec,
    score_threshold: float,
) -> Detections:
    """One image's raw SSD head -> Detections normalized to the model input.

    encodings: (A, 4) or (1, A, 4) ``[ty, tx, th, tw]``; scores: (A, K) or (1, A, K), K =
    classes (+1 when ``spec.background_class``). Like TFLite_Detection_PostProcess with
    ``max_classes_per_detection=1``, each anchor votes for its best class only; rows under
    ``score_threshold`` are dropped before boxes are decoded (most anchors are).
    """
    enc = np.asarray(encodings, np.float32).reshape(-1, 4)
    sc = np.asarray(scores, np.float32)
    sc = sc.reshape(-1, sc.shape[-1])
    if len(enc) != len(sc) or len(enc) != len(anchors_cxcywh):
        raise ValueError(f"SSD head mismatch: {len(enc)} encodings, {len(sc)} score rows, "
                         f"{len(anchors_cxcywh)} anchors")
    sc = _activate(sc, spec.score_activation)
    if spec.background_class:
        sc = sc[:, 1:]
    class_ids, best = top_class(sc)
    keep = np.flatnonzero(best >= score_threshold)
    xyxy = BoxCoder(tuple(spec.box_scales_yxhw)).decode(enc[keep], anchors_cxcywh[keep])
    return Detections(np.clip(xyxy, -0.25, 1.25), best[keep], class_ids[keep])


def anchors_for(spec: SsdDecoderSpec) -> np.ndarray:
    """Anchors from the spec: explicit list, else generated from the stored generator."""
    if spec.anchors_cxcywh is not None:
        return np.asarray(spec.anchors_cxcywh, np.float32)
    if spec.anchor_generator is None:
        raise ValueError("SSD decoder needs anchors: metadata has neither anchors_cxcywh "
                         "nor anchor_generator")
    return ssd_anchors(SsdAnchorSpec.from_dict(spec.anchor_generator))


@dataclass
class SsdDecoder:
    spec: SsdDecoderSpec
    anchors_cxcywh: np.ndarray
    boxes_index: int
    scores_index: int
    name: str = "ssd"
    needs_nms: bool = True

    @property
    def num_classes(self) -> int | None:
        return None  # known to the caller from the scores shape

    def __call__(self, outputs: list[np.ndarray], score_threshold: float) -> Detections:
        return decode_ssd(outputs[self.boxes_index], outputs[self.scores_index],
                          self.anchors_cxcywh, self.spec, score_threshold)


@dataclass(frozen=True)
class PostprocessHead:
    """Where a fused model keeps its raw SSD head, and the fused op's settings.

    Lets the device decode the raw heads itself (more detections than the op's
    max_detections, another IoU) and lets tests check our decoder against the op.
    """

    boxes_tensor: int
    scores_tensor: int
    anchors_cxcywh: np.ndarray
    scales_yxhw: tuple[float, float, float, float]
    num_classes: int
    iou_threshold: float
    score_threshold: float
    max_detections: int
    background_class: bool


def find_postprocess_head(model: TfliteFile) -> PostprocessHead | None:
    """The raw head feeding a TFLite_Detection_PostProcess op, or None if there is none."""
    from flatbuffers import flexbuffers

    op = next((o for o in model.operators if o.opcode == "TFLite_Detection_PostProcess"), None)
    if op is None or len(op.inputs) < 3:
        return None
    opts = flexbuffers.Loads(op.custom_options) if op.custom_options else {}
    anchors = model.constant(op.inputs[2])
    if anchors is None:
        return None
    num_classes = int(opts.get("num_classes", 0))
    scores_width = model.tensors[op.inputs[1]].shape[-1]
    return PostprocessHead(
        boxes_tensor=op.inputs[0], scores_tensor=op.inputs[1],
        anchors_cxcywh=anchors_from_yxhw(anchors.reshape(-1, 4)),
        scales_yxhw=tuple(float(opts.get(k, d)) for k, d in
                          (("y_scale", 10), ("x_scale", 10), ("h_scale", 5), ("w_scale", 5))),
        num_classes=num_classes,
        iou_threshold=float(opts.get("nms_iou_threshold", 0.6)),
        score_threshold=float(opts.get("nms_score_threshold", 0.0)),
        max_detections=int(opts.get("max_detections", 10)),
        background_class=scores_width == num_classes + 1,
    )


@dataclass
class FusedHeadSsdDecoder:
    """Decodes the raw head inside a fused model, bypassing its post-process op.

    The head is an intermediate tensor: the runner returns it among its outputs
    (``TfliteBackend(extra_outputs=(head.boxes_tensor, head.scores_tensor))``) and this
    decoder reads it at ``boxes_index`` / ``scores_index``. Used to check our decoder
    against the op and to lift the op's fixed ``max_detections``.
    """

    head: PostprocessHead
    boxes_index: int
    scores_index: int
    name: str = "ssd"
    needs_nms: bool = True

    @classmethod
    def from_signature(cls, sig: Signature, head: PostprocessHead) -> FusedHeadSsdDecoder:
        """Find the head's two tensors among the signature's outputs (by tensor index)."""
        where = {s.index: i for i, s in enumerate(sig.outputs)}
        if head.boxes_tensor not in where or head.scores_tensor not in where:
            raise ValueError(f"{sig.source}: the raw SSD head (tensors {head.boxes_tensor}, "
                             f"{head.scores_tensor}) is not among the runner's outputs; load it "
                             "with extra_outputs=(head.boxes_tensor, head.scores_tensor)")
        return cls(head, where[head.boxes_tensor], where[head.scores_tensor])

    @property
    def num_classes(self) -> int:
        return self.head.num_classes

    def __call__(self, outputs: list[np.ndarray], score_threshold: float) -> Detections:
        spec = SsdDecoderSpec(box_scales_yxhw=self.head.scales_yxhw, score_activation="none",
                              background_class=self.head.background_class)
        return decode_ssd(outputs[self.boxes_index], outputs[self.scores_index],
                          self.head.anchors_cxcywh, spec, score_threshold)

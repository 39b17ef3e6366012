"""Fusing ``TFLite_Detection_PostProcess`` into an SSD graph.

The TFLite converter replaces a ``tf.function`` whose ``experimental_implements`` attribute
names the op with the op itself (the attribute string below is the one the TF Object
Detection API writes in ``export_tflite_graph_lib_tf2.py``). The function body is a stub:
only its signature and attributes matter. The op reads encodings ``[ty, tx, th, tw]``,
scores with a background column (sigmoid already applied, as our Keras contract has it)
and anchors as ``(ycenter, xcenter, h, w)`` constants — the same anchors and box coder the
device decoder uses (``edge.core.anchors``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.core.anchors import anchors_to_yxhw
from edge.core.metadata import PostprocessDecoderSpec, SsdDecoderSpec
from edge.decoders.ssd import anchors_for

# signature keys of the fused model's outputs, in the op's own order
FUSED_OUTPUTS = ("detection_boxes", "detection_classes", "detection_scores", "num_detections")


@dataclass(frozen=True)
class FusionSettings:
    """The op's fixed settings. score_threshold is a floor: the device filters above it."""

    max_detections: int = 100
    score_threshold: float = 0.01
    iou_threshold: float = 0.5

    def __post_init__(self) -> None:
        if self.max_detections < 1:
            raise ValueError(f"max_detections must be >= 1, got {self.max_detections}")
        for name in ("score_threshold", "iou_threshold"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {v}")


def implements_signature(spec: SsdDecoderSpec, num_classes: int, s: FusionSettings) -> str:
    """The ``experimental_implements`` string the MLIR converter turns into the op."""
    y, x, h, w = spec.box_scales_yxhw
    ints = {"max_detections": s.max_detections, "max_classes_per_detection": 1}
    floats = {"nms_score_threshold": s.score_threshold, "nms_iou_threshold": s.iou_threshold,
              "y_scale": y, "x_scale": x, "h_scale": h, "w_scale": w}
    attrs = ['name: "TFLite_Detection_PostProcess"']
    attrs += [f'attr {{ key: "{k}" value {{ i: {v:d} }} }}' for k, v in ints.items()]
    attrs.append('attr { key: "use_regular_nms" value { b: false } }')
    attrs += [f'attr {{ key: "{k}" value {{ f: {v:f} }} }}' for k, v in floats.items()]
    attrs.append(f'attr {{ key: "num_classes" value {{ i: {num_classes:d} }} }}')
    return " ".join(attrs)


def check_fusable(spec: object) -> SsdDecoderSpec:
    if not isinstance(spec, SsdDecoderSpec):
        raise ValueError(f"--fuse-postprocess needs an SSD model, the record's decoder is "
                         f"{getattr(spec, 'type', spec)!r}")
    if spec.score_activation != "none" or not spec.background_class:
        raise ValueError("--fuse-postprocess needs sigmoid-applied scores with a background "
                         "column (decoder.score_activation 'none', background_class true); "
                         f"got {spec.score_activation!r}, background_class={spec.background_class}")
    return spec


def make_fused_head(spec: SsdDecoderSpec, num_classes: int, settings: FusionSettings):
    """A function (boxes [1,A,4], scores [1,A,C+1]) -> dict of the op's four outputs."""
    import tensorflow as tf

    anchors = tf.constant(anchors_to_yxhw(anchors_for(spec)).astype(np.float32))

    @tf.function(experimental_implements=implements_signature(spec, num_classes, settings))
    def postprocess(box_encodings, class_predictions, anchors):  # noqa: ARG001 - stub body
        # The converter swaps this body for the op; these constants only give it 4 outputs.
        boxes = tf.constant(0.0, dtype=tf.float32, name="boxes")
        classes = tf.constant(0.0, dtype=tf.float32, name="classes")
        scores = tf.constant(0.0, dtype=tf.float32, name="scores")
        count = tf.constant(0.0, dtype=tf.float32, name="num_detections")
        return boxes, classes, scores, count

    def head(boxes, scores):
        out = postprocess(boxes, scores, anchors)
        return dict(zip(FUSED_OUTPUTS, out))

    return head


def fused_decoder_spec() -> PostprocessDecoderSpec:
    """What the device needs: the op's outputs by signature key, class ids already 0-based."""
    return PostprocessDecoderSpec(output_order=FUSED_OUTPUTS, class_offset=0)

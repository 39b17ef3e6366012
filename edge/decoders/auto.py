"""Pick the decoder for a model from its signature: from our metadata, else from the
output shapes. Reads ``edge.backends.base.Signature`` only, never a runner."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from edge.backends.base import Signature
from edge.core.metadata import (
    EndToEndDecoderSpec,
    ModelMetadata,
    PostprocessDecoderSpec,
    SsdDecoderSpec,
    YoloDecoderSpec,
)
from edge.decoders.base import Decoder
from edge.decoders.names import DECODER_NAMES, DECODERS
from edge.decoders.postprocess import PostprocessDecoder, roles_from_graph
from edge.decoders.ssd import (
    FusedHeadSsdDecoder,
    SsdDecoder,
    anchors_for,
    find_postprocess_head,
)
from edge.decoders.yolo import (
    EndToEndDecoder,
    YoloGridDecoder,
    YoloLtrbDecoder,
    YoloV5Decoder,
    YoloV8Decoder,
)

log = logging.getLogger(__name__)

__all__ = ["DECODER_NAMES", "DecoderChoice", "UnknownOutputsError", "choose_decoder",
           "describe_outputs", "output_positions"]


class UnknownOutputsError(ValueError):
    """The model's outputs match no decoder we know."""


@dataclass
class DecoderChoice:
    decoder: Decoder
    how: str  # "metadata", "auto-detected ..." or "--decoder ..."


def output_positions(sig: Signature) -> dict[str, int]:
    """Output name (tensor name and signature key) -> position in the outputs."""
    return sig.positions()


def _named(positions: dict[str, int], name: str | None) -> int | None:
    if name is None:
        return None
    if name in positions:
        return positions[name]
    hits = [i for n, i in positions.items() if n.split(":")[0].endswith(name)]
    return hits[0] if len(hits) == 1 else None


def _graph_roles(sig: Signature) -> dict[str, int] | None:
    if sig.graph is None:
        return None
    op = next((o for o in sig.graph.operators if o.opcode == "TFLite_Detection_PostProcess"), None)
    if op is None:
        return None
    return roles_from_graph(op.outputs, [s.index for s in sig.outputs])


def _ssd_from_spec(sig: Signature, spec: SsdDecoderSpec) -> SsdDecoder:
    anchors = anchors_for(spec)
    pos = sig.positions()
    bi, si = _named(pos, spec.boxes_output), _named(pos, spec.scores_output)
    if bi is None or si is None:
        shapes = sig.output_shapes
        if len(shapes) != 2:
            raise UnknownOutputsError(f"SSD model must have 2 outputs, got shapes {shapes}")
        fours = [i for i, s in enumerate(shapes) if s[-1] == 4]
        if len(fours) == 1:
            bi, si = fours[0], 1 - fours[0]
        else:  # 3 classes + background also ends in 4: encodings are the signed ones
            bi, si = 0, 1
            log.warning("SSD outputs both end in 4 and carry no names; assuming boxes first")
    for i, what in ((bi, "boxes"), (si, "scores")):
        if sig.outputs[i].shape[-2] != len(anchors):
            raise UnknownOutputsError(
                f"SSD {what} output {sig.outputs[i].name} has {sig.outputs[i].shape[-2]} "
                f"rows but the metadata's anchors number {len(anchors)}")
    return SsdDecoder(spec, anchors, bi, si)


def _from_metadata(sig: Signature, md: ModelMetadata) -> Decoder:
    spec = md.decoder
    wh = sig.input_wh
    n = len(md.labels)
    if isinstance(spec, PostprocessDecoderSpec):
        roles = None
        if spec.output_order:
            pos = sig.positions()
            found = [_named(pos, name) for name in spec.output_order]
            if all(f is not None for f in found):
                roles = dict(zip(("boxes", "classes", "scores", "count"), found))
        return PostprocessDecoder(sig.output_shapes, roles or _graph_roles(sig),
                                  class_offset=spec.class_offset, num_classes=n)
    if isinstance(spec, SsdDecoderSpec):
        return _ssd_from_spec(sig, spec)
    if isinstance(spec, YoloDecoderSpec):
        if spec.layout == "yolov5":
            return YoloV5Decoder(wh, n, spec.boxes_normalized)
        if spec.layout == "yolov8":
            return YoloV8Decoder(wh, n, spec.boxes_normalized)
        if spec.layout == "ltrb":
            return YoloLtrbDecoder(spec, n, wh)
        # grid: outputs matched to strides by their grid height
        order = []
        for stride in spec.strides:
            match = [i for i, s in enumerate(sig.outputs) if s.shape[1] * stride == wh[1]]
            if len(match) != 1:
                raise UnknownOutputsError(f"no unique output of grid {wh[1] // stride} for stride "
                                          f"{stride}; outputs {sig.output_shapes}")
            order.append(match[0])
        return YoloGridDecoder(spec, n, wh, order)
    if isinstance(spec, EndToEndDecoderSpec):
        return EndToEndDecoder(wh, spec.boxes_normalized)
    raise UnknownOutputsError(f"unsupported decoder spec {spec!r}")


def _detect(sig: Signature) -> tuple[str, int | None]:
    """Guess the layout of a model without metadata: (decoder name, num classes)."""
    shapes = sig.output_shapes
    if _graph_roles(sig) is not None or (
        len(shapes) == 4 and sorted(len(s) for s in shapes) == [1, 2, 2, 3]
    ):
        head = find_postprocess_head(sig.graph) if sig.graph is not None else None
        return "postprocess", head.num_classes if head else None
    if len(shapes) == 1 and len(shapes[0]) == 3:
        _, a, b = shapes[0]
        if b == 6 and a <= 1000:
            return "end2end", None
        if b > 5 and a > b:
            return "yolov5", b - 5
        if a > 4 and b > a:
            return "yolov8", a - 4
    raise UnknownOutputsError(
        f"{sig.source}: outputs {shapes} match no known detector layout "
        "(TFLite_Detection_PostProcess boxes/classes/scores/count, YOLOv5 [1,N,5+C], "
        "YOLOv8 [1,4+C,N], end-to-end [1,K,6]); convert it with `edge convert` to embed "
        f"metadata, or pass --decoder {{{','.join(DECODER_NAMES)}}}"
    )


def _fits(name: str, shapes: list[tuple[int, ...]]) -> bool:
    """Whether ``shapes`` can be what decoder ``name`` reads (rank and size, not values)."""
    if name == "postprocess":
        return len(shapes) == 4
    if name in ("yolov5", "yolov8", "end2end"):
        if len(shapes) != 1 or len(shapes[0]) != 3:
            return False
        _, a, b = shapes[0]
        return {"yolov5": b > 5, "yolov8": a > 4, "end2end": b == 6}[name]
    return True  # ssd / yolo-grid check their own inputs


def check_override_layout(sig: Signature, name: str) -> None:
    """A ``--decoder`` whose layout the outputs cannot have fails here, naming both, rather
    than deep in decoding (``argmax of an empty sequence``)."""
    shapes = [tuple(s) for s in sig.output_shapes]
    if _fits(name, shapes):
        return
    try:
        guess = f"; auto-detection reads them as {_detect(sig)[0]!r} (drop --decoder)"
    except UnknownOutputsError:
        guess = ""
    raise UnknownOutputsError(f"{sig.source}: --decoder {name} expects {DECODERS[name]}, but the "
                              f"model's outputs are {[list(s) for s in shapes]}{guess}")


def choose_decoder(
    sig: Signature, metadata: ModelMetadata | None, override: str | None = None
) -> tuple[DecoderChoice, int | None]:
    """The decoder for this model and the number of classes it emits (None if unknown).

    ``--decoder ssd`` on a fused model decodes the raw head, so the runner must return the
    head's tensors among its outputs (``TfliteBackend(extra_outputs=...)``).
    """
    if override is not None and override not in DECODER_NAMES:
        raise ValueError(f"--decoder must be one of {DECODER_NAMES}, got {override!r}")
    if metadata is not None and override is None:
        return DecoderChoice(_from_metadata(sig, metadata), "metadata"), len(metadata.labels)
    shapes = sig.output_shapes
    if override is None:
        name, num_classes = _detect(sig)
        how = f"auto-detected from outputs {shapes} (override with --decoder)"
    else:
        check_override_layout(sig, override)
        name, how = override, f"--decoder {override}"
        num_classes = None
        if name in ("yolov5", "yolov8") and len(shapes) == 1 and len(shapes[0]) == 3:
            num_classes = shapes[0][2] - 5 if name == "yolov5" else shapes[0][1] - 4
    wh = sig.input_wh
    if name == "postprocess":
        dec: Decoder = PostprocessDecoder(shapes, _graph_roles(sig), num_classes=num_classes)
    elif name == "yolov5":
        dec = YoloV5Decoder(wh, int(num_classes or 0))
    elif name == "yolov8":
        dec = YoloV8Decoder(wh, int(num_classes or 0))
    elif name == "end2end":
        dec = EndToEndDecoder(wh)
    elif name == "ssd":
        head = find_postprocess_head(sig.graph) if sig.graph is not None else None
        if head is None:
            raise UnknownOutputsError(
                f"{sig.source}: --decoder ssd needs anchors; this model has no edge metadata "
                "and no TFLite_Detection_PostProcess op to read them from")
        dec = FusedHeadSsdDecoder.from_signature(sig, head)
        num_classes = head.num_classes
    else:
        raise UnknownOutputsError(f"--decoder {name} needs edge metadata in the model")
    if num_classes is None and getattr(dec, "num_classes", None):
        num_classes = dec.num_classes
    log.info("decoder %s %s", dec.name, how)
    return DecoderChoice(dec, how), num_classes


def describe_outputs(sig: Signature) -> list[str]:
    return sig.describe_outputs()

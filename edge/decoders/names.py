"""The decoder names users can pick (``--decoder``, the device YAML): the one table."""

from __future__ import annotations

# name -> the output layout it reads (shown in help and errors)
DECODERS: dict[str, str] = {
    "postprocess": "fused TFLite_Detection_PostProcess: boxes, classes, scores, count",
    "ssd": "raw SSD head (box encodings + class scores) decoded with anchors",
    "yolov5": "YOLOv5 [1, N, 5+C]: cx, cy, w, h, objectness, class scores",
    "yolov8": "YOLOv8 [1, 4+C, N]: cx, cy, w, h, class scores",
    "end2end": "end-to-end [1, K, 6]: x1, y1, x2, y2, score, class (NMS inside)",
    "yolo-grid": "our tiny-YOLO, one raw output per stride (needs edge metadata)",
}
DECODER_NAMES: tuple[str, ...] = tuple(DECODERS)

"""Geometry and contracts shared by training, conversion and the device."""

from edge.core.boxes import Detections, iou_matrix
from edge.core.letterbox import FrameTransform, letterbox, resize_for_model, stretch
from edge.core.nms import nms, nms_indices

__all__ = ["Detections", "FrameTransform", "iou_matrix", "letterbox", "nms", "nms_indices",
           "resize_for_model", "stretch"]

"""Dataset readers for training: the device-safe readers of ``edge.evaluation.datasets``
(no TensorFlow there), re-exported so training code has one place to import them from."""

from edge.evaluation.datasets import (
    FORMATS,
    Dataset,
    DatasetError,
    Issue,
    Sample,
    available_splits,
    detect_format,
    load_split,
    load_splits,
    report_text,
)
from edge.evaluation.datasets.writers import coco_dict, write_coco, write_voc, write_yolo

__all__ = ["FORMATS", "Dataset", "DatasetError", "Issue", "Sample", "available_splits", "coco_dict",
           "detect_format", "load_split", "load_splits", "report_text", "write_coco", "write_voc",
           "write_yolo"]

"""Dataset readers (YOLO txt, Pascal VOC XML, COCO JSON) with validation; no TensorFlow."""

from edge.datasets.load import FORMATS, available_splits, detect_format, load_split, load_splits
from edge.datasets.report import report_text
from edge.datasets.types import Dataset, DatasetError, Issue, Sample

__all__ = ["FORMATS", "Dataset", "DatasetError", "Issue", "Sample", "available_splits", "detect_format",
           "load_split", "load_splits", "report_text"]

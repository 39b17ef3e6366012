"""Dataset readers (YOLO txt, Pascal VOC XML, COCO JSON) with validation; no TensorFlow."""

from edge.evaluation.datasets.load import FORMATS, available_splits, detect_format, load_split, load_splits
from edge.evaluation.datasets.report import report_text
from edge.evaluation.datasets.types import Dataset, DatasetError, Issue, Sample

__all__ = ["FORMATS", "Dataset", "DatasetError", "Issue", "Sample", "available_splits", "detect_format",
           "load_split", "load_splits", "report_text"]

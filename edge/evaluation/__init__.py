"""Device-safe evaluation: datasets -> COCO ground truth, pycocotools mAP, PR curves.

No TensorFlow at import time: devices run ``edge eval`` on ``.tflite`` models.
"""

from edge.evaluation.coco import CocoResult, evaluate_coco
from edge.evaluation.evaluate import evaluate_detector, evaluate_predictions

__all__ = ["CocoResult", "evaluate_coco", "evaluate_detector", "evaluate_predictions"]

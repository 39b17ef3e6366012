"""Proof that conversion kept accuracy: the ``.tflite`` through the device runtime vs the
float Keras model, on the validation split, scored with the same pycocotools wrapper.

Both paths share the letterbox, normalization, decoder and NMS of ``edge``: the Keras side
is ``train.keras_detector.KerasDetector`` (the one Keras runner: training's val mAP and
``edge eval`` on Keras models use it too), the TFLite side is ``edge.detector.Detector``,
i.e. what the device runs; both score at ``edge eval``'s operating point. A per-tensor
comparison on a few images localizes where error enters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge.core.metadata import ModelMetadata
from edge.evaluation.cli import EVAL_MAX_DETECTIONS, EVAL_SCORE
from train.keras_detector import KerasDetector

__all__ = ["EVAL_MAX_DETECTIONS", "EVAL_SCORE", "KerasDetector", "ParityReport", "TensorDiff",
           "compare_tensors", "eval_keras_detector", "load_validation", "run_parity"]


def eval_keras_detector(keras_model: Any, trained: ModelMetadata) -> KerasDetector:
    """The float model at the evaluation operating point (what parity scores)."""
    return KerasDetector(keras_model, trained, score=EVAL_SCORE, max_detections=EVAL_MAX_DETECTIONS)


def raw_outputs(kd: KerasDetector, image_bgr: np.ndarray) -> dict[str, np.ndarray]:
    """The float model's raw heads for one frame, by output name, batch axis kept."""
    x, _ = kd.preprocess(image_bgr)
    backend = kd.detector.backend
    return {s.name: o for s, o in zip(backend.signature.outputs, backend.invoke(x[None]))}


@dataclass
class TensorDiff:
    """One output tensor, float model vs converted (dequantized) model, over a few images."""

    name: str
    shape: tuple[int, ...]
    max_abs: float
    mean_abs: float
    value_range: float

    @property
    def relative(self) -> float:
        return self.mean_abs / self.value_range if self.value_range > 0 else 0.0


def compare_tensors(keras_det: KerasDetector, tflite_path: Path,
                    images: list[np.ndarray]) -> list[TensorDiff]:
    """Per-tensor error of the raw heads. For a fused SSD the op's inputs are compared."""
    from edge.backends.tflite import TfliteBackend
    from edge.decoders.ssd import find_postprocess_head
    from edge.detector import Detector

    det = Detector.load(tflite_path)
    head = find_postprocess_head(det.backend.file)
    backend, pos = det.backend, det.backend.signature.positions()
    if head is not None:  # the heads are intermediates: have the runner return them too
        backend = TfliteBackend(tflite_path, extra_outputs=(head.boxes_tensor, head.scores_tensor))
        n = len(backend.outputs)
        pos = {"boxes": n, "scores": n + 1}
    acc: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for img in images:
        ref = raw_outputs(keras_det, img)
        x, _ = det.preprocess(img)
        outs = backend.invoke(x)
        for name, want in ref.items():
            if name in pos:
                got = outs[pos[name]]
                acc.setdefault(name, []).append((want.reshape(-1), np.asarray(got, np.float32).reshape(-1)))
    diffs = []
    for name, pairs in acc.items():
        want = np.concatenate([p[0] for p in pairs])
        got = np.concatenate([p[1] for p in pairs])
        err = np.abs(want - got)
        diffs.append(TensorDiff(name, tuple(ref[name].shape), float(err.max()), float(err.mean()),
                                float(want.max() - want.min())))
    return diffs


@dataclass
class ParityReport:
    float_map50: float
    float_map: float
    tflite_map50: float
    tflite_map: float
    per_class: dict[str, tuple[float, float]]  # name -> (float AP50, tflite AP50)
    max_drop: float
    num_images: int
    tensors: list[TensorDiff] = field(default_factory=list)
    labels_note: str = ""  # which classes were left out when model and data differ by name

    @property
    def drop50(self) -> float:
        return self.float_map50 - self.tflite_map50

    @property
    def drop(self) -> float:
        return self.float_map - self.tflite_map

    @property
    def passed(self) -> bool:
        return not self.failures()

    def failures(self) -> list[str]:
        """What the gate refuses: either metric dropping more than ``max_drop``."""
        out = []
        if self.drop50 > self.max_drop:
            out.append(f"mAP@0.5 dropped {self.drop50:.4f}")
        if self.drop > self.max_drop:
            out.append(f"mAP@[.5:.95] dropped {self.drop:.4f}")
        return out

    def to_dict(self) -> dict:
        return {"float_map50": round(self.float_map50, 4), "float_map": round(self.float_map, 4),
                "map50": round(self.tflite_map50, 4), "map": round(self.tflite_map, 4),
                "drop50": round(self.drop50, 4), "drop": round(self.drop, 4), "max_drop": self.max_drop,
                "images": self.num_images}

    def text(self) -> str:
        lines = [f"parity on {self.num_images} validation images (gate: mAP@0.5 and mAP@[.5:.95] "
                 f"drops <= {self.max_drop})",
                 f"  {'':<14}{'float':>9}{'tflite':>9}{'drop':>9}",
                 f"  {'mAP@0.5':<14}{self.float_map50:>9.4f}{self.tflite_map50:>9.4f}{self.drop50:>+9.4f}",
                 f"  {'mAP@[.5:.95]':<14}{self.float_map:>9.4f}{self.tflite_map:>9.4f}{self.drop:>+9.4f}"]
        if self.labels_note:
            lines.insert(1, f"  labels: {self.labels_note}")
        for name, (a, b) in self.per_class.items():
            lines.append(f"  AP50 {name[:9]:<9}{a:>9.4f}{b:>9.4f}{a - b:>+9.4f}")
        if self.tensors:
            lines.append("  per-tensor error (float vs converted, dequantized):")
            for t in self.tensors:
                lines.append(f"    {t.name:<12} {list(t.shape)} max {t.max_abs:.4g} mean {t.mean_abs:.4g} "
                             f"({100 * t.relative:.2f}% of range {t.value_range:.3g})")
        lines.append("  PASS" if self.passed else
                     f"  FAIL: {' and '.join(self.failures())} > --max-drop {self.max_drop}")
        return "\n".join(lines)


def load_validation(root: Path, labels: list[str], split: str | None = None):
    """The validation split of a dataset (YOLO/VOC/COCO, as edge.evaluation reads them)."""
    from edge.datasets.load import VAL_NAMES, available_splits, load_split

    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"--val-data {root}: no such dataset folder")
    have = available_splits(root)
    split = split or next((s for s in VAL_NAMES if s in have), None)
    if split is None:
        raise ValueError(f"--val-data {root}: no validation split among {have}; pass --val-split")
    from edge.datasets.load import names_own_classes

    # the dataset's own names (classes pair by name in run_parity); the model's if it has none
    ds = load_split(root, split, names=None if names_own_classes(root) else labels)
    if not len(ds):
        raise ValueError(f"--val-data {root}: split {split!r} has no images")
    return ds


def run_parity(keras_model: Any, trained: ModelMetadata, tflite_path: Path, dataset: Any,
               max_drop: float = 0.02, tensor_images: int = 4, progress: bool = True) -> ParityReport:
    """Evaluate both models on ``dataset`` (an edge.evaluation Dataset) and compare.

    trained: the training record (raw-head decoder); the .tflite carries its own.
    """
    from edge.detector import Detector
    from edge.evaluation import evaluate_detector
    from edge.evaluation.evaluate import read_bgr
    from edge.evaluation.labels import match_labels, scored_pair

    kd = eval_keras_detector(keras_model, trained)
    td = Detector.load(tflite_path, score=EVAL_SCORE, max_detections=EVAL_MAX_DETECTIONS)
    match = match_labels(list(trained.labels), list(dataset.labels))
    ref = evaluate_detector(*scored_pair(kd.detect, dataset, match), progress)
    got = evaluate_detector(*scored_pair(td.detect, dataset, match), progress)
    per = {n: (ref.per_class_ap50.get(n, float("nan")), got.per_class_ap50.get(n, float("nan")))
           for n in ref.per_class_ap50}
    images = [read_bgr(s.image_path) for s in dataset.samples[:tensor_images]]
    tensors = compare_tensors(kd, tflite_path, images)
    return ParityReport(ref.map50, ref.map, got.map50, got.map, per, max_drop, len(dataset), tensors,
                        match.note() if match else "")

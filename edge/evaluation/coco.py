"""pycocotools bbox evaluation: ground truth + detections -> mAP, per-class AP, PR curves.

Ground truth is a COCO dict (``writers.coco_dict`` builds one from a ``Dataset``: category
id = class id + 1, image id = sample index + 1). Detections are COCO result rows
``{"image_id", "category_id", "bbox": [x, y, w, h] pixels, "score"}``.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.extras import install_command

STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


@dataclass
class CocoResult:
    """Summary of one evaluation.

    stats: the 12 pycocotools numbers (STAT_NAMES; -1 where undefined).
    per_class_ap: class name -> AP@[.5:.95] (NaN for classes with no ground truth).
    per_class_ap50: class name -> AP@0.5.
    pr_curves: class name -> (recall (101,), precision (101,)) at IoU 0.5, all areas, 100 dets.
    """

    stats: dict[str, float]
    per_class_ap: dict[str, float] = field(default_factory=dict)
    per_class_ap50: dict[str, float] = field(default_factory=dict)
    pr_curves: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    num_images: int = 0
    num_detections: int = 0

    @property
    def map(self) -> float:
        return self.stats["AP"]

    @property
    def map50(self) -> float:
        return self.stats["AP50"]

    def to_dict(self) -> dict:
        return {"stats": self.stats, "per_class_ap": self.per_class_ap,
                "per_class_ap50": self.per_class_ap50, "num_images": self.num_images,
                "num_detections": self.num_detections}

    def summary(self) -> str:
        lines = [f"mAP@[.5:.95] {self.map:.4f}   mAP@0.5 {self.map50:.4f}   AP75 {self.stats['AP75']:.4f}"
                 f"   ({self.num_images} images, {self.num_detections} detections)"]
        width = max((len(n) for n in self.per_class_ap), default=5)
        for name, ap in self.per_class_ap.items():
            ap50 = self.per_class_ap50.get(name, float("nan"))
            lines.append(f"  {name:<{width}}  AP {ap:.4f}  AP50 {ap50:.4f}")
        return "\n".join(lines)


def _load(x: dict | str | Path) -> dict | list:
    if isinstance(x, (str, Path)):
        return json.loads(Path(x).read_text())
    return x


def _class_mean(p: np.ndarray) -> float:
    p = p[p > -1]
    return float(np.mean(p)) if p.size else float("nan")


def evaluate_coco(ground_truth: dict | str | Path, detections: list[dict] | str | Path,
                  iou_type: str = "bbox") -> CocoResult:
    """Run pycocotools COCOeval; stdout chatter is swallowed, numbers returned."""
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError as e:
        raise RuntimeError(f"evaluation needs pycocotools: {install_command('eval')}") from e
    gt_data = _load(ground_truth)
    dets = list(_load(detections))
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = json.loads(json.dumps(gt_data))  # COCO mutates what it indexes
        gt.createIndex()
    cat_ids = sorted(gt.getCatIds())
    names = {c["id"]: c["name"] for c in gt.loadCats(cat_ids)}
    n_img = len(gt.getImgIds())
    if not dets:  # loadRes cannot take an empty list; nothing detected scores 0
        stats = dict.fromkeys(STAT_NAMES, 0.0)
        return CocoResult(stats, dict.fromkeys(names.values(), 0.0), dict.fromkeys(names.values(), 0.0),
                          {}, n_img, 0)
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(dets)
        ev = COCOeval(gt, dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    stats = {k: float(v) for k, v in zip(STAT_NAMES, ev.stats)}
    prec = ev.eval["precision"]  # [T IoUs, R recalls, K classes, A areas, M maxDets]
    t50 = int(np.argmin(np.abs(ev.params.iouThrs - 0.5)))
    per_ap, per_ap50, curves = {}, {}, {}
    for k, cid in enumerate(ev.params.catIds):
        name = names[cid]
        per_ap[name] = _class_mean(prec[:, :, k, 0, -1])
        per_ap50[name] = _class_mean(prec[t50, :, k, 0, -1])
        curves[name] = (np.asarray(ev.params.recThrs), np.asarray(prec[t50, :, k, 0, -1]))
    return CocoResult(stats, per_ap, per_ap50, curves, n_img, len(dets))

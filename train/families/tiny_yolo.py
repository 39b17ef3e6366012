"""Tiny-YOLO (``train.models.tiny_yolo``): k-means anchors at strides 16/32, YOLOv5-style
cell/anchor targets, CIoU + objectness + class BCE, the ``yolo`` grid decoder."""

from __future__ import annotations

from dataclasses import dataclass

from train import anchors_kmeans as ak
from train.contract import yolo_metadata
from train.families.base import Built
from train.losses import YoloLoss
from train.models.tiny_yolo import STRIDES, STRIDES_3L, build_tiny_yolo
from train.targets import YoloTargetEncoder

ANCHORS_PER_SCALE = 3
# peak Adam learning rate when the user gives none. On chess, 7 CPU-minutes (docs/benchmarks.md):
# 2e-3 0.432, 4e-3 0.505, 8e-3 0.560, 1.6e-2 0.576 val mAP@[.5:.95]; with 30 % closing epochs
# 1.6e-2 0.588, 3.2e-2 0.566.
LR = 1.6e-2
# AdamW's decoupled weight decay on the conv kernels (BatchNorm and biases untouched). On chess, 7
# CPU-minutes at lr 1.6e-2: none 0.588, 0.05 0.629, 0.1 0.605 val mAP@[.5:.95]. With BatchNorm after
# every conv a kernel's scale does not change its output; without decay the kernels' norm grows and
# the step that counts shrinks as it trains.
WEIGHT_DECAY = 0.05


@dataclass(frozen=True)
class TinyYoloFamily:
    name: str = "tiny-yolo"
    summary: str = "YOLOv3-tiny layout, anchors at strides 16/32 (k-means on the data)"
    strides: tuple[int, ...] = STRIDES
    # backbone downsamplings done by stride-2 convs (0: YOLOv3-tiny's pools), and the stride-16
    # head's conv (train.models.tiny_yolo.NECK16). All four strided and a 1x1 before the p16 3x3:
    # chess, 25 CPU-minutes, against 3 and full: 86 epochs instead of 75, val 0.705 / 0.959 against
    # 0.709 / 0.960, int8 invoke() 2.23 ms against 2.99 at 2 threads (bench/invoke_cuts.py: the
    # conv at 40x40 before the pool and the p16 3x3 over 192 channels were 40 % of it)
    strided: int = 4
    neck16: str = "bottleneck"

    def _strides(self, cfg) -> tuple[int, ...]:
        """The family's strides, or the ablation knob ``strides=8,16`` (bench/train_real.py --set)."""
        if "strides" in cfg.extra:
            return tuple(int(v) for v in str(cfg.extra["strides"]).split(","))
        return self.strides

    def setup(self, cfg, train_ds) -> tuple[dict, str]:
        anchors, miou = ak.yolo_anchors(train_ds, cfg.input_size, self._strides(cfg), ANCHORS_PER_SCALE,
                                        cfg.seed)
        shown = [a.round(1).tolist() for a in anchors]
        return {"anchors": anchors}, f"k-means anchors (input px): {shown}; mean best IoU {miou:.3f}"

    def build(self, cfg, labels, setup, provenance) -> Built:
        n, size, anchors, strides = len(labels), cfg.input_size, setup["anchors"], self._strides(cfg)
        # ablation knobs (bench/train_real.py --set strided=4 --set neck16=bottleneck)
        # a stride-8 head taps the backbone's stride-8 conv, which needs the pool after it
        default = min(self.strided, 3) if 8 in strides else self.strided
        strided = int(cfg.extra.get("strided", default))
        neck16 = str(cfg.extra.get("neck16", self.neck16))
        model = build_tiny_yolo(size, n, ANCHORS_PER_SCALE, cfg.width, cfg.weights, strides, strided, neck16)
        enc = YoloTargetEncoder(size, list(strides), anchors, n)
        # cfg.extra holds ablation knobs (bench/train_real.py --set box_gain=...)
        gains = {k: float(cfg.extra[k]) for k in ("box_gain", "obj_gain", "cls_gain") if k in cfg.extra}
        # obj_balance=4,1: per-stride multiplier of the objectness gain, finest first (YOLOv5's balance)
        balance = [float(v) for v in str(cfg.extra.get("obj_balance", "")).split(",") if v]
        balance = balance or [1.0] * len(strides)
        obj = gains.pop("obj_gain", 1.0)
        losses = [YoloLoss(s, a, n, size, obj_gain=obj * b, **gains)
                  for s, a, b in zip(strides, anchors, balance)]
        md = yolo_metadata(labels, size, list(strides), anchors, "tiny_yolo", provenance)
        shapes = [(size // s, size // s, ANCHORS_PER_SCALE * (5 + n)) for s in strides]
        return Built(model, enc.encode_batch, losses, md, shapes, lr=LR, weight_decay=WEIGHT_DECAY)


FAMILY = TinyYoloFamily()
# three scales (YOLOv3-tiny-3l): a stride-8 head for small objects and tighter boxes
FAMILY_3L = TinyYoloFamily(name="tiny-yolo-3l", strides=STRIDES_3L, strided=3, neck16="full",
                           summary="tiny-YOLO with a third, stride-8 head (YOLOv3-tiny-3l)")

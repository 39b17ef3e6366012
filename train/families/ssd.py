"""MobileNetV2 + FPNLite + SSDLite heads (``train.models.ssd``): anchors fitted to the data,
BoxCoder targets, smooth-L1 + focal losses, the ``ssd`` decoder (and the fused post-process
op at conversion)."""

from __future__ import annotations

from dataclasses import dataclass

from edge.core.anchors import SsdAnchorSpec
from train import anchors_kmeans as ak
from train.contract import ssd_metadata
from train.families.base import Built
from train.losses import SsdBoxLoss, SsdFocalLoss
from train.models.ssd import MIN_STRIDES, build_ssd, feature_map_sizes
from train.targets import SsdTargetEncoder

MIN_STRIDE_GAIN = 0.05  # matched-box fraction the stride-8 SSD layer must add to be used
# peak learning rate when the user gives none. raccoon, 6 CPU-minutes (docs/benchmarks.md):
# 2e-3 0.204, 8e-3 0.272, 1.6e-2 0.247 test mAP@[.5:.95]
LR = 8e-3
# AdamW weight decay on the kernels (as tiny-YOLO's): raccoon at lr 8e-3, 6 minutes: 0 0.272, 0.05 0.300
WEIGHT_DECAY = 0.05
# FPNLite top-down path over the backbone taps; with the fused stem (train.models.ssd picks it when
# training from scratch) chess 25 CPU-minutes went from 0.409 to 0.542 val mAP@[.5:.95]
NECK = "fpn"
# heads (ablation knobs ssd_fpn_depth, ssd_head_layers, ssd_decoupled): 128-channel FPN levels, one
# SSDLite layer per head and decoupled box/class towers learn far more per epoch (chess, epoch 20:
# 0.744 against 0.615 val mAP@0.5) but in 25 CPU-minutes got 21 epochs instead of 32 and ended level
# (0.744 / 0.526 against 0.732 / 0.542), and the model's invoke() took 1.5x as long (docs/benchmarks.md).
# The depth-128 + head-layer pair alone, at closing 0.6: 22 epochs, 0.714 / 0.517 against 0.812 / 0.607
# (half its epochs fell in a slow phase of the VM, which a 25-minute budget pays for in epochs)
HEAD_LAYERS = 0
DECOUPLED = False
# last fraction of the planned epochs without the scale/translate jitter. Chess, exactly 10 epochs
# (bench/train_real.py --minutes 0): 0.3 0.193, 0.6 0.286, 0.9 0.327 val mAP@[.5:.95]. But raccoon
# (196 images, 6 minutes) overfits without it: 0.3 0.276, 0.6 0.313, 0.9 0.242 test mAP@[.5:.95]
CLOSE_AUGMENT = 0.6
# weight of the focal class loss against the box loss (ablation knob ssd_cls_gain), for data with more than
# one class. With 1 the SSD placed chess boxes well but confused bishops and knights (AP@0.5 0.40-0.64).
# Chess, exactly 10 epochs, val mAP@0.5 / mAP@[.5:.95]: gain 1 0.437 / 0.286 and 0.413 / 0.262, gain 2
# 0.558 / 0.359 and 0.540 / 0.351, gain 4 0.558 / 0.343 (two CPUs); 25 CPU-minutes: gain 1 0.812 / 0.607,
# gain 2 0.874 / 0.653, 0.839 / 0.611 and 0.848 / 0.616. With one class the class loss only tells object
# from background: raccoon, 6 minutes, test mAP@[.5:.95] gain 1 0.313 and 0.303, gain 2 0.310 and 0.264,
# so one class keeps 1
CLS_GAIN = 2.0
# images per step. The SSD's 25-minute run was ~1300 steps of 16 and still rising at its end; 8 doubles the
# steps for ~10 % fewer images per second. Chess, 8 CPU-minutes (Intel Xeon), val mAP@0.5 / mAP@[.5:.95]:
# batch 16 0.544 / 0.345 (11 epochs, 15.6 img/s), 8 0.608 / 0.395 (9 epochs, 13.8 img/s), 4 0.462 / 0.292
# (7 epochs, 9.4 img/s: below 8 the step stops paying for itself on 2 cores)
BATCH = 8


def cls_gain(extra: dict, num_classes: int) -> float:
    """The focal class loss's weight: ``extra["ssd_cls_gain"]`` if set, else CLS_GAIN for 2+ classes,
    1 for one."""
    if "ssd_cls_gain" in extra:
        return float(extra["ssd_cls_gain"])
    return CLS_GAIN if num_classes > 1 else 1.0


@dataclass(frozen=True)
class SsdFamily:
    name: str = "ssd"
    summary: str = ("MobileNetV2 + FPNLite + SSDLite heads (anchors fitted to the data; fusable "
                    "post-process)")

    def setup(self, cfg, train_ds) -> tuple[dict, str]:
        if cfg.ssd_min_stride is not None and cfg.ssd_min_stride not in MIN_STRIDES:
            raise ValueError(f"ssd_min_stride must be one of {MIN_STRIDES} or None, "
                             f"got {cfg.ssd_min_stride!r}")
        specs, lines = {}, []
        for st in ([cfg.ssd_min_stride] if cfg.ssd_min_stride else MIN_STRIDES):
            probe = SsdAnchorSpec(feature_map_sizes(cfg.input_size, st))
            specs[st] = ak.fit_ssd_spec(train_ds, cfg.input_size, probe) if cfg.fit_anchors else probe
            frac = ak.ssd_matched_fraction(train_ds, cfg.input_size, specs[st], SsdTargetEncoder.pos_iou)
            lines.append((st, frac))
        # the stride-8 layer costs ~4x the anchors and a bigger head: take it only when the
        # stride-16 grid leaves many boxes without an IoU>=0.5 anchor (chess at 320 px: 63 % vs
        # 95 % matched; raccoon: 99 % either way)
        frac = dict(lines)
        st = cfg.ssd_min_stride or (8 if frac[8] - frac[16] > MIN_STRIDE_GAIN else 16)
        shown = ", ".join(f"min stride {s_}: {f:.1%} of boxes have an anchor at IoU>=0.5" for s_, f in lines)
        miou = ak.ssd_mean_best_iou(train_ds, cfg.input_size, specs[st])
        note = (f"{shown}; using min stride {st}\nSSD anchors {specs[st].to_dict()}; "
                f"mean best IoU {miou:.3f}")
        return {"spec": specs[st], "min_stride": st}, note

    def build(self, cfg, labels, setup, provenance) -> Built:
        n = len(labels)
        depth = cfg.extra.get("ssd_fpn_depth")
        decoupled = str(cfg.extra.get("ssd_decoupled", DECOUPLED)).lower() in ("1", "true")
        model, spec = build_ssd(cfg.input_size, n, setup["spec"], cfg.width, cfg.weights,
                                min_stride=setup["min_stride"], neck=cfg.extra.get("ssd_neck", NECK),
                                stem=cfg.extra.get("ssd_stem"),
                                fpn_depth=int(depth) if depth else None,
                                head_layers=int(cfg.extra.get("ssd_head_layers", HEAD_LAYERS)),
                                decoupled=decoupled)
        enc = SsdTargetEncoder(spec, n, assigner=cfg.ssd_assigner)
        md = ssd_metadata(labels, cfg.input_size, spec, "ssd_mobilenetv2", provenance)
        a = len(enc.anchors_cxcywh)
        box_loss = (SsdBoxLoss(anchors_cxcywh=enc.anchors_cxcywh, iou_gain=cfg.ssd_iou_loss)
                    if cfg.ssd_iou_loss > 0 else SsdBoxLoss())
        cls_loss = SsdFocalLoss(gain=cls_gain(cfg.extra, n))
        return Built(model, enc.encode_batch, [box_loss, cls_loss], md, [(a, 5), (a, n + 2)],
                     lr=LR, weight_decay=WEIGHT_DECAY, close_augment=CLOSE_AUGMENT, batch_size=BATCH)


FAMILY = SsdFamily()

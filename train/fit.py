"""``train(cfg)``: dataset -> anchors -> model -> tf.data -> Keras fit with val mAP.

Writes into ``cfg.out``: ``model.keras`` (best val mAP@[.5:.95]), ``model.edge.json`` (the
model contract), ``last.keras``, ``history.csv``, ``logs/`` (TensorBoard), ``backup/``
(resume state; deleted when training finishes), ``train_report.json``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import tensorflow as tf

from edge.core.metadata import ModelMetadata
from edge.datasets import Dataset, load_splits, report_text
from edge.evaluation.evaluate import evaluate_predictions, read_bgr
from train import families
from train.augment import AugmentConfig, closing
from train.contract import write_metadata
from train.data import make_dataset
from train.ema import WeightEma
from train.keras_detector import KerasDetector
from train.schedule import Schedule

log = logging.getLogger(__name__)
STRATEGIES = ("default", "mirrored", "multi-worker")


@dataclass
class TrainConfig:
    data: Path
    out: Path
    model: str = families.DEFAULT_FAMILY  # a name in train.families.names()
    input_size: int = 320
    epochs: int = 30
    batch_size: int | None = None  # images per step; None: the family's (``Built.batch_size``)
    lr: float | None = None  # peak learning rate; None: the family's (``Built.lr``)
    weight_decay: float | None = None  # AdamW decay of the kernels; None: the family's; 0: Adam
    seed: int = 0
    width: float = 1.0  # MobileNetV2 alpha / tiny-YOLO channel multiplier
    weights: str | None = None  # none | imagenet | path to .h5
    fmt: str | None = None
    names: str | list[str] | None = None
    on_error: str = "skip"
    train_split: str | None = None
    val_split: str | None = None
    val_fraction: float = 0.2
    fit_anchors: bool = True
    ssd_min_stride: int | None = None  # 8 or 16; None: 8 only if it matches clearly more boxes
    ssd_assigner: str = "iou"  # iou (classic SSD matching) | atss (adaptive, train.targets)
    ssd_iou_loss: float = 0.0  # gain of the SSD's (1 - CIoU) box term; 0 = smooth-L1 only
    augment: bool = True
    mosaic: float = 0.0
    patience: int = 10
    strategy: str = "default"
    steps_per_epoch: int | None = None
    max_val_images: int | None = None
    cache: bool = True
    deterministic: bool = False
    verbose: int = 1
    max_seconds: float | None = None  # safety net: stop after the epoch that crosses it
    time_minutes: float | None = None  # budget: epochs, LR schedule and mosaic fitted to it
    ema: bool = True  # validate, save and convert the moving average of the weights
    ema_decay: float | None = None  # None: the average spans ~5 % of the planned steps
    final_lr: float = 0.01  # cosine ends at lr * final_lr
    # for this last fraction of the planned epochs, mosaic and the scale/translate jitter are off
    # (YOLOX's no-aug epochs): the model ends on images framed as the device frames them
    close_augment: float | None = None  # None: the family's (``Built.close_augment``)
    exist_ok: bool = False  # train again over a finished run in ``out``
    # ablation knobs (bench/train_real.py --set): tiny-YOLO box_gain, obj_gain, cls_gain, obj_balance,
    # strides; SSD ssd_neck (fpn|none), ssd_stem (fused|mbv2), ssd_fpn_depth, ssd_head_layers,
    # ssd_decoupled (0|1); all families aug_scale, aug_translate
    extra: dict = field(default_factory=dict)

    def check(self) -> None:
        families.get(self.model)  # names the registered families when unknown
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if self.time_minutes is not None and self.time_minutes <= 0:
            raise ValueError(f"time budget must be > 0 minutes, got {self.time_minutes}")
        if self.close_augment is not None and not 0.0 <= self.close_augment < 1.0:
            raise ValueError(f"close_augment must be a fraction in [0, 1), got {self.close_augment}")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"learning rate must be > 0, got {self.lr}")
        if self.weight_decay is not None and not 0.0 <= self.weight_decay < 1.0:
            raise ValueError(f"weight decay must be in [0, 1), got {self.weight_decay}")
        if self.epochs < 1 or (self.batch_size is not None and self.batch_size < 1):
            raise ValueError(f"epochs and batch_size must be >= 1, got {self.epochs}, {self.batch_size}")


@dataclass
class TrainResult:
    out: Path
    model_path: Path
    metadata: ModelMetadata
    best_map: float
    best_map50: float
    history: dict
    seconds: float
    fit_seconds: float = float("nan")  # Keras fit alone (a --time budget bounds this)


def _optimizer(lr: float, wd: float) -> keras.optimizers.Optimizer:
    """Adam (clipped), or AdamW when ``wd`` > 0: decoupled decay (``lr * wd`` per step) of the
    conv/dense kernels only; BatchNorm's scale/offset and biases are not shrunk."""
    if wd <= 0:
        return keras.optimizers.Adam(lr, clipnorm=10.0)
    opt = keras.optimizers.AdamW(lr, weight_decay=wd, clipnorm=10.0)
    opt.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    return opt


def _augment_config(cfg: TrainConfig) -> AugmentConfig:
    """The augmentation of ``cfg``; ablation knobs in ``cfg.extra``: aug_scale=LO,HI, aug_translate=F."""
    a = AugmentConfig(mosaic=cfg.mosaic)
    if "aug_scale" in cfg.extra:
        lo, hi = (float(v) for v in str(cfg.extra["aug_scale"]).split(","))
        a = dataclasses.replace(a, scale=(lo, hi))
    if "aug_translate" in cfg.extra:
        a = dataclasses.replace(a, translate=float(cfg.extra["aug_translate"]))
    return a


def make_strategy(name: str) -> tf.distribute.Strategy:
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()  # cluster from TF_CONFIG
    return tf.distribute.get_strategy()


class MapCallback(keras.callbacks.Callback):
    """Val mAP after every epoch, through the device decoders; logs val_map / val_map50."""

    def __init__(self, val: Dataset, metadata: ModelMetadata, batch: int = 8) -> None:
        super().__init__()
        self.val, self.metadata, self.batch = val, metadata, batch
        self.images = [read_bgr(s.image_path) for s in val.samples]
        self.best = (-1.0, -1.0)

    def evaluate(self) -> tuple[float, float]:
        det = KerasDetector(self.model, self.metadata, score=0.01)
        preds = []
        for i in range(0, len(self.images), self.batch):
            preds.extend(det.detect_batch(self.images[i:i + self.batch]))
        r = evaluate_predictions(preds, self.val)
        return r.map, r.map50

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        m, m50 = self.evaluate()
        if logs is not None:
            logs["val_map"], logs["val_map50"] = m, m50
        if m > self.best[0]:
            self.best = (m, m50)
        print(f"\nepoch {epoch + 1}: val mAP@[.5:.95] {m:.4f}  mAP@0.5 {m50:.4f}", flush=True)


class TimeBudget(keras.callbacks.Callback):
    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds, self.t0 = seconds, time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if time.perf_counter() - self.t0 > self.seconds:
            print(f"time budget {self.seconds:.0f} s used: stopping after epoch {epoch + 1}", flush=True)
            self.model.stop_training = True


def _tensorboard(logdir: Path) -> list[keras.callbacks.Callback]:
    try:
        import tensorboard  # noqa: F401  (tf.summary needs it at write time)
    except ImportError:
        print("TensorBoard logs off: pip install tensorboard to get them in logs/", flush=True)
        return []
    return [keras.callbacks.TensorBoard(str(logdir), update_freq="epoch")]


RUN_FILES = ("model.keras", "model.edge.json", "last.keras", "history.csv", "train_report.json")


def _claim_run_dir(out: Path, exist_ok: bool) -> None:
    """A finished run is never overwritten silently; an unfinished one (``backup/`` left by an
    interrupted fit) resumes."""
    if (out / "backup").is_dir():
        print(f"{out}: resuming the unfinished run (backup/ holds its state)", flush=True)
        return
    finished = [f for f in RUN_FILES if (out / f).exists()]
    if finished and not exist_ok:
        raise ValueError(f"{out} holds a finished run ({', '.join(finished)}); pass --exist-ok to "
                         "train again over it, or choose another --out")
    for f in finished:  # --exist-ok: a new run, not this one's history appended to the old
        (out / f).unlink()
    out.mkdir(parents=True, exist_ok=True)


def train(cfg: TrainConfig) -> TrainResult:
    """Train per ``cfg``; returns where the best model and its contract were written."""
    cfg.check()
    t0 = time.perf_counter()
    keras.utils.set_random_seed(cfg.seed)
    if cfg.deterministic:
        tf.config.experimental.enable_op_determinism()
    out = Path(cfg.out)
    _claim_run_dir(out, cfg.exist_ok)
    train_ds, val_ds = load_splits(cfg.data, cfg.fmt, cfg.names, cfg.on_error, cfg.train_split,
                                   cfg.val_split, cfg.val_fraction, cfg.seed)
    print(report_text(train_ds), "\n" + report_text(val_ds), flush=True)
    if cfg.max_val_images:
        val_ds = val_ds.subset(range(min(cfg.max_val_images, len(val_ds))), val_ds.name)
    labels = train_ds.labels
    family = families.get(cfg.model)
    setup, note = family.setup(cfg, train_ds)
    print(note, flush=True)
    provenance = {"dataset": str(cfg.data), "run": str(out), "family": family.name,
                  "train_images": len(train_ds), "val_images": len(val_ds), "anchors": note,
                  "config": json.loads(json.dumps(asdict(cfg), default=str))}
    strategy = make_strategy(cfg.strategy)
    with strategy.scope():
        built = family.build(cfg, labels, setup, provenance)
        # the learning rate is set every step by Schedule (fitted to the budget when there is one)
        # XLA only where the family measured it faster, and not under tf.distribute (Keras' rule)
        jit = built.jit_compile and cfg.strategy == "default"
        lr = cfg.lr if cfg.lr is not None else built.lr
        wd = cfg.weight_decay if cfg.weight_decay is not None else built.weight_decay
        close = cfg.close_augment if cfg.close_augment is not None else built.close_augment
        batch = cfg.batch_size if cfg.batch_size is not None else built.batch_size
        built.model.compile(optimizer=_optimizer(lr, wd), loss=built.losses, jit_compile=jit)
    model, md = built.model, built.metadata
    # the config records None where the family's default applies; keep the values that ran
    hyper = {"lr": lr, "weight_decay": wd, "close_augment": close, "batch_size": batch}
    md = md.model_copy(update={"provenance": {**md.provenance, "hyper": hyper}})
    if built.note:
        print(built.note, flush=True)
    print(f"peak learning rate {lr:g}" + (" (the family's default)" if cfg.lr is None else "")
          + f", weight decay {wd:g}" + (" (the family's default)" if cfg.weight_decay is None else "")
          + f", closing {close:.0%} without jitter"
          + (" (the family's default)" if cfg.close_augment is None else "")
          + f", batch {batch}" + (" (the family's default)" if cfg.batch_size is None else ""), flush=True)
    steps = cfg.steps_per_epoch or max(1, len(train_ds) // batch)
    # mosaic is read per batch, so the schedule can switch it off for the last epochs
    aug_state = {"cfg": _augment_config(cfg) if cfg.augment else None}
    train_tf = make_dataset(train_ds, cfg.input_size, built.encoder, built.target_shapes, batch,
                            True, lambda: aug_state["cfg"], cfg.seed, cfg.cache)
    if cfg.steps_per_epoch:
        train_tf = train_tf.repeat()

    def close_augment() -> None:
        if aug_state["cfg"] is not None:
            aug_state["cfg"] = closing(aug_state["cfg"])

    budget = cfg.time_minutes * 60 if cfg.time_minutes else None
    schedule = Schedule(lr, cfg.epochs, steps, batch, cfg.final_lr, budget, close,
                        close_augment if cfg.augment and close > 0 else None,
                        verbose=cfg.verbose > 0)
    write_metadata(md, out / "model.keras")
    map_cb = MapCallback(val_ds, md)
    ema = WeightEma(cfg.ema_decay, horizon=lambda: schedule.total_steps) if cfg.ema else None
    # order matters (Keras calls on_epoch_end in list order): EMA weights in, score, plan,
    # save; raw weights back before the resume backup
    callbacks = [
        *([ema.swap_in()] if ema else []),
        map_cb,
        schedule,
        keras.callbacks.ModelCheckpoint(out / "model.keras", monitor="val_map", mode="max",
                                        save_best_only=True),
        keras.callbacks.ModelCheckpoint(out / "last.keras"),
        keras.callbacks.EarlyStopping(monitor="val_map", mode="max", patience=cfg.patience),
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
        *_tensorboard(out / "logs"),
        *([TimeBudget(cfg.max_seconds)] if cfg.max_seconds else []),
        *([ema.swap_out()] if ema else []),
        keras.callbacks.BackupAndRestore(str(out / "backup")),
    ]
    epochs = 100_000 if budget else cfg.epochs  # a budget plans the epochs itself
    hist = model.fit(train_tf, epochs=epochs, steps_per_epoch=cfg.steps_per_epoch, callbacks=callbacks,
                     verbose=cfg.verbose)
    best_map, best50 = map_cb.best
    if best_map < 0:  # resumed after the last epoch: no epoch ran, nothing new scored
        best_map, best50 = float("nan"), float("nan")
    md = md.model_copy(update={"provenance": {**md.provenance, "val_map": best_map, "val_map50": best50}})
    write_metadata(md, out / "model.keras")
    seconds = time.perf_counter() - t0
    history = {k: [float(v) for v in vs] for k, vs in hist.history.items()}
    fit_s = getattr(schedule, "fit_seconds", float("nan"))
    (out / "train_report.json").write_text(json.dumps(
        {"val_map": best_map, "val_map50": best50, "seconds": seconds, "fit_seconds": fit_s,
         "family": family.name, **hyper, "history": history}, indent=2))
    return TrainResult(out, out / "model.keras", md, best_map, best50, history, seconds, fit_s)

"""``train(cfg)``: dataset -> anchors -> model -> tf.data -> Keras fit with val mAP.

Writes into ``cfg.out``: ``model.keras`` (best val mAP@[.5:.95]), ``model.edge.json`` (the
model contract), ``last.keras``, ``history.csv``, ``logs/`` (TensorBoard), ``backup/``
(resume state; deleted when training finishes), ``train_report.json``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import tensorflow as tf

from edge.core.anchors import SsdAnchorSpec
from edge.core.metadata import ModelMetadata
from edge.datasets import Dataset, load_splits, report_text
from edge.evaluation.evaluate import evaluate_predictions, read_bgr
from train import anchors_kmeans as ak
from train.augment import AugmentConfig
from train.contract import ssd_metadata, write_metadata, yolo_metadata
from train.data import make_dataset
from train.keras_detector import KerasDetector
from train.losses import SsdBoxLoss, SsdFocalLoss, YoloLoss
from train.models.ssd import MIN_STRIDES, build_ssd, feature_map_sizes
from train.models.tiny_yolo import STRIDES, build_tiny_yolo
from train.targets import SsdTargetEncoder, YoloTargetEncoder

log = logging.getLogger(__name__)
MODELS = ("ssd", "tiny-yolo")
MIN_STRIDE_GAIN = 0.05  # matched-box fraction the stride-8 SSD layer must add to be used
STRATEGIES = ("default", "mirrored", "multi-worker")


@dataclass
class TrainConfig:
    data: Path
    out: Path
    model: str = "ssd"
    input_size: int = 320
    epochs: int = 30
    batch_size: int = 16
    lr: float = 2e-3
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
    augment: bool = True
    mosaic: float = 0.0
    patience: int = 10
    strategy: str = "default"
    steps_per_epoch: int | None = None
    max_val_images: int | None = None
    cache: bool = True
    deterministic: bool = False
    verbose: int = 1
    max_seconds: float | None = None  # wall-time budget: stop after the epoch that crosses it
    extra: dict = field(default_factory=dict)

    def check(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if self.ssd_min_stride is not None and self.ssd_min_stride not in MIN_STRIDES:
            raise ValueError(f"ssd_min_stride must be one of {MIN_STRIDES} or None, "
                             f"got {self.ssd_min_stride!r}")
        if self.epochs < 1 or self.batch_size < 1:
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


def _anchor_setup(cfg: TrainConfig, train_ds: Dataset) -> tuple[dict, str]:
    if cfg.model == "tiny-yolo":
        anchors, miou = ak.yolo_anchors(train_ds, cfg.input_size, STRIDES, 3, cfg.seed)
        shown = [a.round(1).tolist() for a in anchors]
        return {"anchors": anchors}, f"k-means anchors (input px): {shown}; mean best IoU {miou:.3f}"
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
    return {"spec": specs[st], "min_stride": st}, f"{shown}; using min stride {st}"


def _build(cfg: TrainConfig, num_classes: int, setup: dict, labels: list[str], provenance: dict):
    if cfg.model == "ssd":
        model, spec = build_ssd(cfg.input_size, num_classes, setup["spec"], cfg.width, cfg.weights,
                                min_stride=setup["min_stride"])
        enc = SsdTargetEncoder(spec, num_classes)
        losses = [SsdBoxLoss(), SsdFocalLoss()]
        md = ssd_metadata(labels, cfg.input_size, spec, "ssd_mobilenetv2", provenance)
        shapes = [(len(enc.anchors_cxcywh), 5), (len(enc.anchors_cxcywh), num_classes + 2)]
        return model, enc.encode_batch, losses, md, shapes, spec
    anchors = setup["anchors"]
    model = build_tiny_yolo(cfg.input_size, num_classes, 3, cfg.width, cfg.weights)
    enc = YoloTargetEncoder(cfg.input_size, list(STRIDES), anchors, num_classes)
    losses = [YoloLoss(s, a, num_classes, cfg.input_size) for s, a in zip(STRIDES, anchors)]
    md = yolo_metadata(labels, cfg.input_size, list(STRIDES), anchors, "tiny_yolo", provenance)
    shapes = [(cfg.input_size // s, cfg.input_size // s, 3 * (5 + num_classes)) for s in STRIDES]
    return model, enc.encode_batch, losses, md, shapes, None


def train(cfg: TrainConfig) -> TrainResult:
    """Train per ``cfg``; returns where the best model and its contract were written."""
    cfg.check()
    t0 = time.perf_counter()
    keras.utils.set_random_seed(cfg.seed)
    if cfg.deterministic:
        tf.config.experimental.enable_op_determinism()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    train_ds, val_ds = load_splits(cfg.data, cfg.fmt, cfg.names, cfg.on_error, cfg.train_split,
                                   cfg.val_split, cfg.val_fraction, cfg.seed)
    print(report_text(train_ds), "\n" + report_text(val_ds), flush=True)
    if cfg.max_val_images:
        val_ds = val_ds.subset(range(min(cfg.max_val_images, len(val_ds))), val_ds.name)
    labels = train_ds.labels
    setup, note = _anchor_setup(cfg, train_ds)
    provenance = {"dataset": str(cfg.data), "run": str(out), "train_images": len(train_ds),
                  "val_images": len(val_ds), "config": json.loads(json.dumps(asdict(cfg), default=str))}
    strategy = make_strategy(cfg.strategy)
    with strategy.scope():
        model, encoder, losses, md, shapes, spec = _build(cfg, len(labels), setup, labels, provenance)
        steps = cfg.steps_per_epoch or max(1, len(train_ds) // cfg.batch_size)
        sched = keras.optimizers.schedules.CosineDecay(
            cfg.lr * 0.1, decay_steps=max(1, steps * cfg.epochs), warmup_target=cfg.lr,
            warmup_steps=min(steps * 2, steps * cfg.epochs // 4))
        model.compile(optimizer=keras.optimizers.Adam(sched, clipnorm=10.0), loss=losses)
    if spec is not None:
        miou = ak.ssd_mean_best_iou(train_ds, cfg.input_size, spec)
        note = f"{note}\nSSD anchors {spec.to_dict()}; mean best IoU {miou:.3f}"
    print(note, flush=True)
    provenance["anchors"] = note
    aug = AugmentConfig(mosaic=cfg.mosaic) if cfg.augment else None
    train_tf = make_dataset(train_ds, cfg.input_size, encoder, shapes, cfg.batch_size, True, aug, cfg.seed,
                            cfg.cache)
    if cfg.steps_per_epoch:
        train_tf = train_tf.repeat()
    write_metadata(md, out / "model.keras")
    map_cb = MapCallback(val_ds, md)
    callbacks = [
        map_cb,
        keras.callbacks.ModelCheckpoint(out / "model.keras", monitor="val_map", mode="max",
                                        save_best_only=True),
        keras.callbacks.ModelCheckpoint(out / "last.keras"),
        keras.callbacks.EarlyStopping(monitor="val_map", mode="max", patience=cfg.patience),
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
        keras.callbacks.BackupAndRestore(str(out / "backup")),
    ]
    callbacks.extend(_tensorboard(out / "logs"))
    if cfg.max_seconds:
        callbacks.append(TimeBudget(cfg.max_seconds))
    hist = model.fit(train_tf, epochs=cfg.epochs, steps_per_epoch=cfg.steps_per_epoch, callbacks=callbacks,
                     verbose=cfg.verbose)
    best_map, best50 = map_cb.best
    if best_map < 0:  # resumed after the last epoch: no epoch ran, nothing new scored
        best_map, best50 = float("nan"), float("nan")
    md = md.model_copy(update={"provenance": {**md.provenance, "val_map": best_map, "val_map50": best50}})
    write_metadata(md, out / "model.keras")
    seconds = time.perf_counter() - t0
    history = {k: [float(v) for v in vs] for k, vs in hist.history.items()}
    (out / "train_report.json").write_text(json.dumps(
        {"val_map": best_map, "val_map50": best50, "seconds": seconds, "history": history}, indent=2))
    return TrainResult(out, out / "model.keras", md, best_map, best50, history, seconds)

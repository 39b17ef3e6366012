"""``edge train``: parse flags, call ``train.fit.train``, turn domain errors into messages."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from edge.datasets.types import ON_ERROR
from train import families

EXAMPLES = """
\b
Examples:
  edge train --data datasets/door --out runs/door --time 25
  edge train --data datasets/door --model tiny-yolo --epochs 60 --out runs/door
  edge train --data datasets/door --model ssd --width 0.5 --time 25 --out runs/door-ssd
  edge train --data datasets/door --model mypkg.families:FAMILY --out runs/x   (your own family)
"""


@click.command("train", epilog=EXAMPLES)
@click.option("--data", required=True, type=click.Path(path_type=Path, exists=True),
              help="Dataset folder (YOLO txt, Pascal VOC XML or COCO JSON) or a YOLO data.yaml.")
@click.option("--model", "arch", default=families.DEFAULT_FAMILY, show_default=True,
              help=f"Model family: {', '.join(families.names())}, or package.module:FAMILY.")
@click.option("--input", "input_size", type=int, default=320, show_default=True,
              help="Square model input in pixels (multiple of 32, 224-416 typical).")
@click.option("--epochs", type=int, default=30, show_default=True,
              help="Epochs to train (ignored with --time, which plans them).")
@click.option("--time", "time_minutes", type=float, default=None,
              help="Training budget in minutes: epochs, LR warm-up/cosine decay and the mosaic "
              "switch-off are fitted to it from the measured epoch time.")
@click.option("--ema/--no-ema", default=True, show_default=True,
              help="Validate, save and convert the moving average of the weights.")
@click.option("--batch", "batch_size", type=int, default=None,
              help="Images per training step; default: the family's (SSD 8, tiny-YOLO and yolo-nano 16).")
@click.option("--lr", type=float, default=None,
              help="Peak learning rate (cosine); default: the family's (tiny-YOLO 1.6e-2, SSD 8e-3, "
                   "yolo-nano 2e-3).")
@click.option("--weight-decay", type=float, default=None,
              help="AdamW decay of the conv kernels (0: Adam); default: the family's (tiny-YOLO and SSD "
                   "0.05, yolo-nano 0).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run folder (runs/x).")
@click.option("--format", "fmt", type=click.Choice(["yolo", "voc", "coco"]), default=None,
              help="Dataset format (default: detected).")
@click.option("--names", default=None, help="Class names: a file (one per line) or a,b,c "
              "(YOLO datasets without data.yaml).")
@click.option("--train-split", default=None, help="Split to train on (default: train).")
@click.option("--val-split", default=None, help="Split to validate on (default: val/valid/test, "
              "else a seeded --val-fraction of train).")
@click.option("--val-fraction", type=float, default=0.2, show_default=True)
@click.option("--on-error", type=click.Choice(ON_ERROR), default="skip", show_default=True,
              help="Bad annotations: skip them (listed in the report) or stop.")
@click.option("--width", type=float, default=1.0, show_default=True,
              help="Width multiplier (MobileNetV2 alpha / tiny-YOLO channels).")
@click.option("--weights", default="none", show_default=True,
              help="Backbone weights: none, imagenet (downloads) or a local .h5.")
@click.option("--fit-anchors/--default-anchors", default=True, show_default=True,
              help="SSD: fit anchor scales/aspects to the data.")
@click.option("--augment/--no-augment", default=True, show_default=True)
@click.option("--mosaic", type=float, default=0.0, show_default=True, help="Mosaic probability.")
@click.option("--close-augment", type=float, default=None,
              help="Last fraction of the planned epochs trained without mosaic and scale/translate "
                   "jitter (flip and colour stay), on images framed as the device frames them. "
                   "Default: the family's (ssd 0.6, the others 0.3).")
@click.option("--patience", type=int, default=10, show_default=True, help="Early stopping (epochs).")
@click.option("--steps-per-epoch", type=int, default=None)
@click.option("--max-val-images", type=int, default=None, help="Cap validation images per epoch.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--deterministic", is_flag=True, help="Deterministic TF ops (slower).")
@click.option("--strategy", type=click.Choice(["default", "mirrored", "multi-worker"]), default="default",
              show_default=True, help="tf.distribute strategy (multi-worker reads TF_CONFIG).")
@click.option("--threads", type=int, default=None, help="TF intra-op threads (default: all cores).")
@click.option("--exist-ok", is_flag=True, help="Train again over a finished run in --out (its files "
              "are replaced). An interrupted run in --out resumes without it.")
def train_command(data: Path, arch: str, input_size: int, epochs: int, batch_size: int | None,
                  lr: float | None, weight_decay: float | None,
                  out: Path, fmt: str | None, names: str | None, train_split: str | None,
                  val_split: str | None, val_fraction: float, on_error: str, width: float, weights: str,
                  fit_anchors: bool, augment: bool, mosaic: float, close_augment: float, patience: int,
                  steps_per_epoch: int | None, max_val_images: int | None, seed: int,
                  deterministic: bool, strategy: str, threads: int | None, time_minutes: float | None,
                  ema: bool, exist_ok: bool) -> None:
    """Train a detector (tiny-YOLO, anchor-free yolo-nano or MobileNetV2-SSDLite); writes
    OUT/model.keras and OUT/model.edge.json (the model contract), resuming if OUT holds an
    unfinished run."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from train.fit import TrainConfig, train

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(max(1, threads // 2))
    cfg = TrainConfig(data=data, out=out, model=arch, input_size=input_size, epochs=epochs,
                      batch_size=batch_size, lr=lr, weight_decay=weight_decay, seed=seed, width=width,
                      weights=weights, fmt=fmt,
                      names=names, on_error=on_error, train_split=train_split, val_split=val_split,
                      val_fraction=val_fraction, fit_anchors=fit_anchors, augment=augment, mosaic=mosaic,
                      close_augment=close_augment,
                      patience=patience, strategy=strategy, steps_per_epoch=steps_per_epoch,
                      max_val_images=max_val_images, deterministic=deterministic,
                      time_minutes=time_minutes, ema=ema, exist_ok=exist_ok,
                      # off a terminal (nohup, systemd, CI logs) Keras' progress bar is a wall of
                      # escape codes; one line per epoch reads the same in a log file
                      verbose=1 if sys.stdout.isatty() else 2)
    try:
        result = train(cfg)
    except (ValueError, FileNotFoundError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"best val mAP@[.5:.95] {result.best_map:.4f}, mAP@0.5 {result.best_map50:.4f} "
               f"({result.seconds:.0f} s)\nmodel: {result.model_path}\ncontract: "
               f"{result.model_path.with_name('model.edge.json')}")

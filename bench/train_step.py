"""Training-step speed per model family with and without XLA, side by side in one process.

    python bench/train_step.py --input 320 --width 0.5 --threads 2

Prints seconds per step (batch 16, synthetic data, the family's real loss) and the XLA /
plain ratio. Keras switches XLA off on CPU-only machines; ``train.families`` turn it on per
family where this says it pays (``Built.jit_compile``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _setup(arch: str, size: int, width: float, classes: int, batch: int):
    import numpy as np

    if arch == "yolo-nano":
        from train.families.yolo_nano import NanoLoss
        from train.models.yolo_nano import build_yolo_nano

        gt = np.full((batch, 32, 5), -1, np.float32)
        gt[:, :10] = [0.1, 0.1, 0.2, 0.2, 3]
        return build_yolo_nano(size, classes, width), [NanoLoss(size, classes)], [gt]
    if arch == "tiny-yolo":
        from train.losses import YoloLoss
        from train.models.tiny_yolo import STRIDES, build_tiny_yolo

        anchors = np.array([[10, 10], [20, 20], [30, 30]], np.float32)
        ys = [np.zeros((batch, size // s, size // s, 3 * (5 + classes)), np.float32) for s in STRIDES]
        losses = [YoloLoss(s, anchors, classes, size) for s in STRIDES]
        return build_tiny_yolo(size, classes, 3, width), losses, ys
    from train.losses import SsdBoxLoss, SsdFocalLoss
    from train.models.ssd import build_ssd

    model, _ = build_ssd(size, classes, None, width, None, min_stride=8)
    a = model.outputs[0].shape[1]
    ys = [np.zeros((batch, a, 5), np.float32), np.zeros((batch, a, classes + 2), np.float32)]
    return model, [SsdBoxLoss(), SsdFocalLoss()], ys


def step_seconds(arch: str, jit: bool, size: int, width: float, steps: int, batch: int = 16) -> float:
    import keras
    import numpy as np

    model, losses, ys = _setup(arch, size, width, 13, batch * steps)
    x = np.random.default_rng(0).uniform(0, 1, (batch * steps, size, size, 3)).astype(np.float32)
    model.compile(optimizer=keras.optimizers.Adam(1e-3, clipnorm=10.0), loss=losses, jit_compile=jit)
    model.fit(x[:batch], [y[:batch] for y in ys], batch_size=batch, epochs=1, verbose=0)  # trace/compile
    t = time.perf_counter()
    model.fit(x, ys, batch_size=batch, epochs=1, verbose=0)
    return (time.perf_counter() - t) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", type=int, default=320)
    ap.add_argument("--width", type=float, default=0.5)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--families", nargs="*", default=["yolo-nano", "tiny-yolo", "ssd"])
    a = ap.parse_args()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    print(f"{'family':<10} {'plain s/step':>13} {'XLA s/step':>11} {'XLA / plain':>12}")
    for arch in a.families:
        plain = step_seconds(arch, False, a.input, a.width, a.steps)
        xla = step_seconds(arch, True, a.input, a.width, a.steps)
        print(f"{arch:<10} {plain:>13.3f} {xla:>11.3f} {xla / plain:>12.2f}", flush=True)


if __name__ == "__main__":
    main()

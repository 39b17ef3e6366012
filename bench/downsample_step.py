"""Training-step time of tiny-YOLO's backbone by how it downsamples, side by side in one run.

    python bench/downsample_step.py --threads 2

``pools`` is YOLOv3-tiny (3x3 conv at full resolution, then 2x2 max-pool, at every step);
``strided-k`` makes the first k of the four downsamplings stride-2 3x3 convs (the rest
conv + pool). Batch 16, 320 px, width 0.5, an MSE loss on a 1x1 head: the backbone's cost
only. Not a test: CPU numbers for choosing ``train.models.tiny_yolo``'s ``strided``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def backbone(strided: int, size: int, width: float):
    import keras
    from keras import layers

    from train.models.backbone import scaled_channels
    from train.models.tiny_yolo import _cbr

    inp = keras.Input((size, size, 3))
    x = inp
    for i, f in enumerate((16, 32, 64, 128)):
        if i < strided:
            x = _cbr(x, scaled_channels(f, width), 3, f"b{i}", stride=2)
        else:
            x = _cbr(x, scaled_channels(f, width), 3, f"b{i}")
            x = layers.MaxPooling2D(2, 2)(x)
    x = _cbr(x, scaled_channels(256, width), 3, "b4")
    x = layers.MaxPooling2D(2, 2)(x)
    x = _cbr(x, scaled_channels(512, width), 3, "b5")
    return keras.Model(inp, layers.Conv2D(51, 1)(x))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--input", type=int, default=320)
    ap.add_argument("--width", type=float, default=0.5)
    ap.add_argument("--steps", type=int, default=10)
    a = ap.parse_args()
    import keras
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    tf.config.threading.set_inter_op_parallelism_threads(a.threads)
    x = np.random.default_rng(0).uniform(0, 1, (16, a.input, a.input, 3)).astype(np.float32)
    rows = []
    for strided in (0, 1, 2, 3):
        model = backbone(strided, a.input, a.width)
        opt = keras.optimizers.SGD(0.01)

        @tf.function
        def step(x, model=model, opt=opt):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(model(x, training=True) ** 2)
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        step(x)
        step(x)  # traced and warm
        t0 = time.perf_counter()
        for _ in range(a.steps):
            step(x)
        rows.append(("pools" if strided == 0 else f"strided-{strided}", (time.perf_counter() - t0) / a.steps))
    base = rows[0][1]
    print(f"{'backbone':<12}{'s/step':>8}{'vs pools':>10}")
    for name, s in rows:
        print(f"{name:<12}{s:8.3f}{s / base:10.2f}")


if __name__ == "__main__":
    main()

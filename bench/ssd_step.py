"""Where the SSD's training step goes, and what the FPNLite neck and the fused stem change.

    python bench/ssd_step.py --threads 2                 # variants side by side
    python bench/ssd_step.py --threads 2 --stages        # also: MobileNetV2 cut stage by stage

Variants (batch 16, 320 px, width 0.5, min stride 8, 13 classes, synthetic data, the SSD's real
losses, AdamW): the classic SSDLite (MobileNetV2 stem, heads on the backbone taps), the FPNLite
neck and the fused stem alone and together, then heavier heads on top of both (wider FPN levels,
one more SSDLite layer per head, separate box and class towers). Each variant is timed in
``--rounds`` interleaved rounds, so the VM's drift hits all of them alike; the table gives the
median seconds per step and the ratio to the first variant (the classic unless ``--variants``
picks others). ``--stages``: cumulative step time of MobileNetV2 cut after each stage (MSE on the
cut tensor), so the increments say what each stage costs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# (label, build_ssd keywords); the first is the reference of the ratio column
_SHARED = {"head_layers": 0, "decoupled": False}  # the default head, spelled out
VARIANTS = [
    ("classic SSDLite", {"neck": "none", "stem": "mbv2", **_SHARED}),
    ("FPNLite", {"neck": "fpn", "stem": "mbv2", **_SHARED}),
    ("fused stem", {"neck": "none", "stem": "fused", **_SHARED}),
    ("FPNLite + fused", {"neck": "fpn", "stem": "fused", **_SHARED}),
    ("+ FPN depth 128", {"neck": "fpn", "stem": "fused", "fpn_depth": 128, **_SHARED}),
    ("+ 1 head layer", {"neck": "fpn", "stem": "fused", "head_layers": 1, "decoupled": False}),
    ("+ depth 128, 1 head layer", {"neck": "fpn", "stem": "fused", "fpn_depth": 128, "head_layers": 1,
                                   "decoupled": False}),
    ("+ decoupled", {"neck": "fpn", "stem": "fused", "fpn_depth": 128, "head_layers": 1, "decoupled": True}),
]
STAGES = ["Conv1_relu", "expanded_conv_project_BN", "block_1_expand_relu", "block_1_project_BN",
          "block_2_add", "block_5_add", "block_6_expand_relu", "block_12_add", "block_13_expand_relu",
          "block_16_project_BN", "out_relu"]


def stage_costs(size: int, width: float, batch: int, steps: int) -> None:
    import keras
    import numpy as np
    import tensorflow as tf

    from train.models.backbone import mobilenet_v2

    base = mobilenet_v2(size, width, None)
    x = np.random.default_rng(0).uniform(-1, 1, (batch * steps, size, size, 3)).astype(np.float32)
    prev = 0.0
    print(f"{'MobileNetV2 cut after':<26} {'shape':<15} {'s/step':>7} {'stage':>7}")
    for name in STAGES:
        out = base.get_layer(name).output
        m = keras.Model(base.input, out)
        opt = keras.optimizers.Adam(1e-3)

        @tf.function
        def step(xb, m=m, opt=opt):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(m(xb, training=True)))
            opt.apply_gradients(zip(tape.gradient(loss, m.trainable_variables), m.trainable_variables))

        step(x[:batch])
        ts = []
        for _ in range(2):
            t = time.perf_counter()
            for i in range(steps):
                step(x[i * batch:(i + 1) * batch])
            ts.append((time.perf_counter() - t) / steps)
        s = min(ts)
        print(f"{name:<26} {str(tuple(out.shape[1:])):<15} {s:>7.3f} {s - prev:>+7.3f}", flush=True)
        prev = s


def variant_costs(size: int, width: float, batch: int, steps: int, rounds: int,
                  picked: list[int] | None = None) -> None:
    import keras
    import numpy as np

    from train.losses import SsdBoxLoss, SsdFocalLoss
    from train.models.ssd import build_ssd

    x = np.random.default_rng(0).uniform(0, 1, (batch * steps, size, size, 3)).astype(np.float32)
    runs = {}
    variants = [VARIANTS[i] for i in picked] if picked else VARIANTS
    for label, kw in variants:
        model, _ = build_ssd(size, 13, None, width, None, min_stride=8, **kw)
        a = model.outputs[0].shape[1]
        ys = [np.zeros((len(x), a, 5), np.float32), np.zeros((len(x), a, 15), np.float32)]
        ys[1][..., 0] = ys[1][..., -1] = 1.0  # all background, all counted
        model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss=[SsdBoxLoss(), SsdFocalLoss()])
        model.fit(x[:batch], [y[:batch] for y in ys], batch_size=batch, epochs=1, verbose=0)  # trace
        runs[label] = (model, ys, [])
    for _ in range(rounds):
        for model, ys, ts in runs.values():
            t = time.perf_counter()
            model.fit(x, ys, batch_size=batch, epochs=1, verbose=0)
            ts.append((time.perf_counter() - t) / steps)
    ref = float(np.median(runs[variants[0][0]][2]))
    print(f"{'variant':<27} {'params':>9} {'s/step':>7} {'img/s':>6} {'/ first':>9}")
    for label, (model, _, ts) in runs.items():
        s = float(np.median(ts))
        print(f"{label:<27} {model.count_params():>9} {s:>7.3f} {batch / s:>6.1f} {s / ref:>9.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", type=int, default=320)
    ap.add_argument("--width", type=float, default=0.5)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=2, help="steps per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--stages", action="store_true", help="also cut MobileNetV2 stage by stage")
    ap.add_argument("--variants", default="", help="comma-separated indices into VARIANTS (default: all); "
                    "the first is the ratio's reference")
    a = ap.parse_args()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    if a.stages:
        stage_costs(a.input, a.width, a.batch, max(3, a.steps))
    picked = [int(i) for i in a.variants.split(",")] if a.variants else None
    variant_costs(a.input, a.width, a.batch, a.steps, a.rounds, picked)


if __name__ == "__main__":
    main()

"""Does the tf.data pipeline keep the model fed? Pipeline images/s vs train-step images/s.

    python bench/data_pipeline.py --data ../shared/data/chess --names <13 names> --model ssd --input 320

Prints both throughputs and their ratio; > 1 means the input pipeline is not the bottleneck.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--names", default=None)
    ap.add_argument("--model", default="ssd", help="a train.families name")
    ap.add_argument("--input", type=int, default=320)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--width", type=float, default=0.5)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mosaic", type=float, default=0.0)
    a = ap.parse_args()

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from edge.datasets import load_splits
    from train import families
    from train.augment import AugmentConfig
    from train.data import make_dataset
    from train.fit import TrainConfig

    train_ds, _ = load_splits(a.data, names=a.names)
    cfg = TrainConfig(data=a.data, out=Path("/tmp/unused"), model=a.model, input_size=a.input, width=a.width)
    family = families.get(a.model)
    setup, _ = family.setup(cfg, train_ds)
    built = family.build(cfg, train_ds.labels, setup, {})
    model, encoder, shapes = built.model, built.encoder, built.target_shapes
    model.compile(optimizer="adam", loss=built.losses)
    d = make_dataset(train_ds, a.input, encoder, shapes, a.batch, True, AugmentConfig(mosaic=a.mosaic))
    it = iter(d.repeat())
    t0 = time.perf_counter()
    n_warm = len(train_ds) // a.batch  # first pass fills the cache (decode + letterbox)
    for _ in range(n_warm):
        next(it)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    batches = [next(it) for _ in range(a.steps)]
    pipe = a.steps * a.batch / (time.perf_counter() - t0)
    model.train_on_batch(*batches[0])  # trace
    t0 = time.perf_counter()
    for x, y in batches:
        model.train_on_batch(x, y)
    step = a.steps * a.batch / (time.perf_counter() - t0)
    print(f"{a.model} input {a.input} batch {a.batch} threads {a.threads} ({os.cpu_count()} cores)")
    print(f"first pass (decode + letterbox + cache): {n_warm * a.batch / first:.1f} img/s")
    print(f"cached pipeline (augment + encode):      {pipe:.1f} img/s")
    print(f"model train step:                        {step:.1f} img/s")
    print(f"pipeline / model ratio:                  {pipe / step:.2f}x")


if __name__ == "__main__":
    main()

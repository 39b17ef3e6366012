"""Where a model's int8 ``invoke()`` goes: the model cut after each named layer, or whole
tiny-YOLO variants, converted to int8 (int8 I/O, ``convert.tflite.convert_keras``) and timed in
interleaved rounds.

    # cumulative time of a trained run's model cut after each layer (increments = that stretch)
    python bench/invoke_cuts.py --run /tmp/bench/runs/chess_tiny-yolo_s14_25 \\
        --cuts b0_relu6,b2_relu6,b3_pool,b4_pool,b5_relu6,merge16,p16_relu6,full
    # whole tiny-YOLO variants (untrained weights: the time does not depend on them)
    python bench/invoke_cuts.py --variants "strided=3" "strided=4" "strided=4,neck16=bottleneck"

Calibration is 8 random frames: the timing does not depend on the scales. Every file is loaded
through ``edge.backends.tflite.TfliteBackend`` (XNNPACK on), fed one fixed random int8 frame.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _cut_models(run: Path, cuts: list[str]) -> list[tuple[str, object]]:
    import keras

    m = keras.models.load_model(run / "model.keras", compile=False)
    out = []
    for c in cuts:
        outs = m.outputs if c == "full" else [m.get_layer(n).output for n in c.split("+")]
        out.append((c, keras.Model(m.input, outs)))
    return out


def _variant_models(variants: list[str], size: int, classes: int, width: float) -> list[tuple[str, object]]:
    from train.models.tiny_yolo import build_tiny_yolo

    out = []
    for v in variants:
        kw = dict(kv.split("=", 1) for kv in v.split(",") if kv)
        out.append((v, build_tiny_yolo(size, classes, 3, width, None, (16, 32), int(kw.get("strided", 3)),
                                       kw.get("neck16", "full"))))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, help="run folder (model.keras) to cut")
    ap.add_argument("--cuts", default="full", help="comma-separated layer names ('a+b' = both as outputs)")
    ap.add_argument("--variants", nargs="*", default=[], help="tiny-YOLO builds: strided=N,neck16=NAME")
    ap.add_argument("--size", type=int, default=320)
    ap.add_argument("--classes", type=int, default=12)
    ap.add_argument("--width", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args()
    from _invoke import backend_invoke_ms

    from convert.tflite import convert_keras
    from edge.backends.tflite import TfliteBackend

    models = _cut_models(a.run, a.cuts.split(",")) if a.run else []
    models += _variant_models(a.variants, a.size, a.classes, a.width)
    if not models:
        ap.error("give --run (with --cuts) or --variants")
    rng = np.random.default_rng(0)
    size = int(models[0][1].inputs[0].shape[1])
    calib = [rng.uniform(0, 1, (1, size, size, 3)).astype(np.float32) for _ in range(8)]
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, m) in enumerate(models):
            p = Path(tmp) / f"m{i}.tflite"
            p.write_bytes(convert_keras(m, "int8", "int8", calib))
            b = TfliteBackend(p, threads=a.threads)
            x = rng.integers(-128, 128, b.input.shape).astype(np.int8)
            runs.append((name, b, x, [], m.count_params()))
        for _ in range(a.rounds):
            for _, b, x, ts, _ in runs:
                ts.append(backend_invoke_ms(b, x, a.iters))
    print(f"{a.threads} threads, median of {a.rounds} interleaved rounds of {a.iters} invokes, int8 I/O")
    print(f"{'model':<36}{'params':>10}{'invoke ms':>11}{'+ ms':>8}{'/ first':>9}")
    prev, first = 0.0, statistics.median(runs[0][3])
    for name, _, _, ts, n in runs:
        ms = statistics.median(ts)
        inc = f"{ms - prev:+8.3f}" if a.run and name in a.cuts.split(",") else f"{'':>8}"
        print(f"{name:<36}{n:>10}{ms:>11.3f}{inc}{ms / first:>9.2f}")
        prev = ms


if __name__ == "__main__":
    main()

"""``invoke()`` time of .tflite files side by side: ours against a peer's export.

    python bench/invoke_peer.py ours_int8.tflite yolov8n_320_int8.tflite --threads 2

Every file is loaded through ``edge.backends.tflite.TfliteBackend`` (the device runtime's own
interpreter wrapper, XNNPACK on) and fed one fixed random frame of its input type and shape;
files are timed in ``--rounds`` interleaved rounds of ``--iters`` back-to-back invokes, so this
VM's speed drift hits all alike. Prints the median of the round medians and the ratio to the
first file. The peer's file needs no contract: only its input tensor is read.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def frame_for(backend) -> np.ndarray:
    """A random frame of the model's input dtype and shape (content does not change the time)."""
    spec = backend.input
    rng = np.random.default_rng(0)
    if np.issubdtype(spec.dtype, np.integer):
        info = np.iinfo(spec.dtype)
        return rng.integers(info.min, info.max + 1, spec.shape).astype(spec.dtype)
    return rng.uniform(0, 1, spec.shape).astype(spec.dtype)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", type=Path, help=".tflite files; the first is the reference")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=9)
    a = ap.parse_args()
    from _invoke import backend_invoke_ms  # bench/ is on sys.path when run as a script

    from edge.backends.tflite import TfliteBackend

    runs = []
    for p in a.models:
        b = TfliteBackend(p, threads=a.threads)
        runs.append((p, b, frame_for(b), []))
    for _ in range(a.rounds):
        for _, b, x, ts in runs:
            ts.append(backend_invoke_ms(b, x, a.iters))
    print(f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} cpus, "
          f"{runs[0][1].runtime}, {a.threads} threads, median of {a.rounds} interleaved rounds of {a.iters}")
    ref = statistics.median(runs[0][3])
    print(f"{'model':<48}{'input':>22}{'KiB':>8}{'invoke ms':>11}{'/ first':>9}")
    for p, b, _, ts in runs:
        ms = statistics.median(ts)
        shape = f"{np.dtype(b.input.dtype).name} {'x'.join(map(str, b.input.shape[1:]))}"
        print(f"{p.name:<48}{shape:>22}{p.stat().st_size / 1024:>8.0f}{ms:>11.2f}{ms / ref:>9.2f}")


if __name__ == "__main__":
    main()

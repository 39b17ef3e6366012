"""Train both architectures on the real datasets under a wall-time budget; print mAP + time.

    python bench/train_real.py --dataset chess --model ssd --minutes 8
    python bench/train_real.py --dataset raccoon --model tiny-yolo --minutes 8

Run directories go to --out/<dataset>_<model> (default /tmp/bench/runs). The time budget is
checked after each epoch, so a run overshoots by up to one epoch plus its val mAP pass;
wall_s in the RESULT line is the whole run.

Not a test: CPU-only numbers from scratch (no ImageNet weights) are far below published
GPU results; they show the pipeline learns and how fast on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# benchmark the checkout this script sits in, not whichever copy is pip-installed (an editable
# install elsewhere would otherwise be measured silently)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(os.environ.get("EDGE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
CHESS_NAMES = ("bishop,black-bishop,black-king,black-knight,black-pawn,black-queen,black-rook,"
               "white-bishop,white-king,white-knight,white-pawn,white-queen,white-rook")
SETTINGS = {
    # dataset: (path, names, train split, val split, input size)
    "chess": (DATA / "chess", CHESS_NAMES, "train", "val", 320),
    "raccoon": (DATA / "raccoon", None, "train", "test", 224),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", choices=sorted(SETTINGS), required=True)
    ap.add_argument("--model", choices=["ssd", "tiny-yolo"], required=True)
    ap.add_argument("--minutes", type=float, default=6.0, help="training wall-time budget")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--width", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--input", type=int, default=None, help="input size (default per dataset)")
    ap.add_argument("--ssd-min-stride", type=int, choices=[8, 16], default=None,
                    help="SSD finest prediction layer (default: chosen from the anchor match rate)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("/tmp/bench/runs"))
    a = ap.parse_args()

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from train.fit import TrainConfig, train

    path, names, tr, va, size = SETTINGS[a.dataset]
    size = a.input or size
    out = a.out / f"{a.dataset}_{a.model}"
    t0 = time.perf_counter()
    r = train(TrainConfig(data=path, out=out, model=a.model, input_size=size, epochs=a.epochs,
                          batch_size=a.batch, width=a.width, names=names, train_split=tr, val_split=va,
                          max_seconds=a.minutes * 60, patience=100, verbose=2, lr=a.lr, seed=a.seed,
                          ssd_min_stride=a.ssd_min_stride))
    wall = time.perf_counter() - t0
    line = {"dataset": a.dataset, "model": a.model, "input": size, "width": a.width,
            "epochs_run": len(r.history.get("loss", [])), "val_map": round(r.best_map, 4),
            "ssd_min_stride": a.ssd_min_stride, "run_dir": str(out),
            "val_map50": round(r.best_map50, 4), "wall_s": round(wall, 1), "threads": a.threads,
            "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()}
    import train

    line["code"] = str(Path(train.__file__).resolve().parents[1])
    print("RESULT", json.dumps(line), flush=True)


if __name__ == "__main__":
    main()

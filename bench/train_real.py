"""Train a model family on a real dataset under a time budget; print mAP, time and img/s.

    python bench/train_real.py --dataset chess --model yolo-nano --minutes 25
    python bench/train_real.py --dataset raccoon --model ssd --minutes 8 --tag no-ema --no-ema

The budget is ``edge train --time``: the epochs, the cosine schedule and the mosaic switch-off
are fitted to it from the measured epoch time, and the run stops after the epoch that
completes the plan. Run directories go to --out/<dataset>_<model>[_<tag>] (default
/tmp/bench/runs); wall_s in the RESULT line is the whole run, dataset loading included.

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
    ap.add_argument("--model", required=True, help="a train.families name (yolo-nano, tiny-yolo, ssd)")
    ap.add_argument("--minutes", type=float, default=6.0,
                    help="training wall-time budget; 0: no budget, exactly --epochs (per-epoch ablations "
                         "that the VM's speed swings cannot bias)")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--batch", type=int, default=None, help="images per step (default: the family's)")
    ap.add_argument("--width", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--input", type=int, default=None, help="input size (default per dataset)")
    ap.add_argument("--ssd-min-stride", type=int, choices=[8, 16], default=None,
                    help="SSD finest prediction layer (default: chosen from the anchor match rate)")
    ap.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the family's)")
    ap.add_argument("--weight-decay", type=float, default=None,
                    help="AdamW kernel decay (default: the family's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mosaic", type=float, default=0.0, help="mosaic probability")
    ap.add_argument("--close-augment", type=float, default=None,
                    help="last fraction of the epochs without mosaic and scale/translate jitter "
                         "(default: the family's)")
    ap.add_argument("--ssd-assigner", choices=["iou", "atss"], default="iou")
    ap.add_argument("--ssd-iou-loss", type=float, default=0.0, help="SSD (1 - CIoU) box-loss gain")
    ap.add_argument("--no-ema", action="store_true", help="ablation: validate the raw weights")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="ablation knob passed to the family as TrainConfig.extra (e.g. box_gain=0.15)")
    ap.add_argument("--tag", default="", help="suffix of the run directory (ablations)")
    ap.add_argument("--out", type=Path, default=Path("/tmp/bench/runs"))
    a = ap.parse_args()

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from train.fit import TrainConfig, train

    path, names, tr, va, size = SETTINGS[a.dataset]
    size = a.input or size
    out = a.out / f"{a.dataset}_{a.model}{'_' + a.tag if a.tag else ''}"
    if out.exists():  # a benchmark starts from scratch: never resume or refuse an old run
        import shutil

        shutil.rmtree(out)
    extra = dict(kv.split("=", 1) for kv in a.set)
    t0 = time.perf_counter()
    r = train(TrainConfig(data=path, out=out, model=a.model, input_size=size, epochs=a.epochs,
                          batch_size=a.batch, width=a.width, names=names, train_split=tr, val_split=va,
                          time_minutes=a.minutes or None, patience=1000, verbose=2, lr=a.lr, seed=a.seed,
                          weight_decay=a.weight_decay,
                          ssd_min_stride=a.ssd_min_stride, mosaic=a.mosaic, ema=not a.no_ema,
                          close_augment=a.close_augment,
                          ssd_assigner=a.ssd_assigner, ssd_iou_loss=a.ssd_iou_loss, extra=extra))
    wall = time.perf_counter() - t0
    line = {"dataset": a.dataset, "model": a.model, "input": size, "width": a.width,
            "epochs_run": len(r.history.get("loss", [])), "val_map": round(r.best_map, 4),
            "ssd_min_stride": a.ssd_min_stride, "run_dir": str(out),
            "val_map50": round(r.best_map50, 4), "wall_s": round(wall, 1), "threads": a.threads,
            "img_s": round(sum(r.history.get("img_s", [0])) / max(1, len(r.history.get("img_s", []))), 1),
            "mosaic": a.mosaic, **r.metadata.provenance.get("hyper", {}), "ema": not a.no_ema, "tag": a.tag,
            "ssd_assigner": a.ssd_assigner,
            "ssd_iou_loss": a.ssd_iou_loss, "extra": extra,
            "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()}
    import train

    line["code"] = str(Path(train.__file__).resolve().parents[1])
    print("RESULT", json.dumps(line), flush=True)


if __name__ == "__main__":
    main()

"""fp32 / fp16 / int8 (uint8 and int8 I/O) of one trained run, side by side in one process: size,
mAP@0.5, mAP@[.5:.95] on the validation split (through the device runtime) and invoke latency
(interleaved rounds, with a published model as the reference).

    python bench/convert_variants.py --run /tmp/bench/runs/chess_tiny-yolo \
        --data ../shared/data/chess --threads 2

The run comes from bench/train_real.py (the training engineer's bench). Not a test.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, required=True, help="run dir (model.keras + model.edge.json)")
    ap.add_argument("--data", type=Path, required=True, help="dataset root (validation split + train images)")
    ap.add_argument("--calib-count", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=40, help="invokes per timing round (median)")
    ap.add_argument("--rounds", type=int, default=7, help="interleaved timing rounds (median of medians)")
    ap.add_argument("--out", type=Path, default=None, help="where to keep the .tflite files")
    ap.add_argument("--float-head", action="store_true",
                    help="also convert int8 with the output head in float")
    ap.add_argument("--reference", type=Path,
                    default=Path(__file__).resolve().parents[2] / "shared" / "data" / "ssd_mobilenet_v1_coco",
                    help="folder with a published .tflite timed in the same run: this VM's speed drifts "
                    "from day to day, the ratio to it does not")
    a = ap.parse_args()

    import cv2
    from _invoke import invoke_ms  # bench/ is on sys.path when run as a script

    from convert.calibration import load_calibration
    from convert.metadata_writer import contract_for, embed_metadata
    from convert.parity import eval_keras_detector, load_validation
    from convert.source import load_run
    from convert.tflite import convert_keras
    from edge.detector import Detector
    from edge.evaluation import evaluate_detector

    run = load_run(a.run)
    md = run.metadata
    ds = load_validation(a.data, list(md.labels))
    calib_dir = a.data / "train" / "images"
    out_dir = a.out or Path(tempfile.mkdtemp(prefix="convert-bench-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    img = cv2.imread(str(ds.samples[0].image_path))

    rows = []
    t0 = time.perf_counter()
    ref = evaluate_detector(eval_keras_detector(run.model, md).detect, ds, progress=False)
    rows.append(("keras float", (a.run / "model.keras").stat().st_size, ref.map50, ref.map, None))
    calib = load_calibration(calib_dir, md.input, a.calib_count, progress=False)
    # (name, quant, io, float head): int8 with uint8 I/O is what the Edge TPU and most pipelines
    # feed; int8 I/O skips the uint8<->int8 QUANTIZE ops at both ends
    variants = [("fp32", "fp32", None, False), ("fp16", "fp16", None, False),
                ("int8", "int8", "uint8", False), ("int8-i8io", "int8", "int8", False)]
    variants += [("int8-floathead", "int8", None, True)] if a.float_head else []
    dets = {}
    for name, quant, io, float_head in variants:
        data = convert_keras(run.model, quant, io, calib if quant == "int8" else None, float_head=float_head)
        path = out_dir / f"{a.run.name}_{name}.tflite"
        path.write_bytes(embed_metadata(data, contract_for(md, data, quant)))
        det = Detector.load(path, threads=a.threads, score=0.01, max_detections=100)
        res = evaluate_detector(det.detect, ds, progress=False)
        rows.append([name, path.stat().st_size, res.map50, res.map, None])
        dets[name] = det
    refs = sorted(a.reference.glob("*.tflite")) if a.reference.is_dir() else []
    if refs:
        dets["reference"] = Detector.load(refs[0], threads=a.threads)
    # interleaved rounds: this VM's speed drifts within minutes, so every variant sees the same drift
    times: dict[str, list[float]] = {k: [] for k in dets}
    for _ in range(a.rounds):
        for k, det in dets.items():
            times[k].append(invoke_ms(det, img, a.iters))
    for r in rows[1:]:
        r[4] = statistics.median(times[r[0]])
    ref_ms = statistics.median(times["reference"]) if refs else None
    total = time.perf_counter() - t0

    print(f"run {a.run} ({md.name}, {md.input.size_wh[0]}x{md.input.size_wh[1]}, {len(md.labels)} classes); "
          f"{len(ds)} validation images; calibration {len(calib)} images from {calib_dir}")
    print(f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} cpus, "
          f"python {platform.python_version()}, invoke threads {a.threads}, median of {a.rounds} "
          f"interleaved rounds of {a.iters}")
    print(f"{'variant':<16}{'size KiB':>10}{'mAP@0.5':>10}{'mAP@.5:.95':>12}{'invoke ms':>11}{'d mAP50':>9}")
    fp32_map50 = rows[1][2]
    for name, size, m50, m, ms in rows:
        lat = f"{ms:>11.2f}" if ms is not None else f"{'-':>11}"
        print(f"{name:<16}{size / 1024:>10.1f}{m50:>10.4f}{m:>12.4f}{lat}{m50 - fp32_map50:>+9.4f}")
    if ref_ms is not None:
        print(f"reference {refs[0].name}: invoke {ref_ms:.2f} ms; ours / reference: "
              + ", ".join(f"{r[0]} {r[4] / ref_ms:.3f}" for r in rows[1:]))
    int8 = next(r for r in rows if r[0] == "int8")
    print(f"int8 / fp32: size {int8[1] / rows[1][1]:.2f}x, latency {int8[4] / rows[1][4]:.2f}x, "
          f"mAP@0.5 drop {fp32_map50 - int8[2]:.4f} (aim <= 0.02); total {total:.0f}s")


if __name__ == "__main__":
    main()

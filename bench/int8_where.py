"""Where does int8 lose accuracy? Per-layer quantization error of one trained run (TFLite's
QuantizationDebugger), then mAP and invoke time with chosen layers kept in float
(selective quantization), side by side in one process.

    python bench/int8_where.py --run /tmp/bench/runs/chess_tiny-yolo_s3_25 \
        --data ../shared/data/chess --threads 2 --float head --float head+p16

``--float`` takes groups: ``head`` (the 1x1 output convs), or any comma-free substring list
joined by ``+`` matched against the converter's tensor names. Not a test.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--calib-count", type=int, default=300)
    ap.add_argument("--debug-count", type=int, default=20, help="images for the per-layer statistics")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--float", action="append", default=[], dest="floats",
                    help="substrings (joined by +) of tensor names to keep in float; 'head' = output convs")
    a = ap.parse_args()

    import cv2
    import numpy as np
    import tensorflow as tf
    from _invoke import invoke_ms  # bench/ is on sys.path when run as a script

    from convert.calibration import load_calibration
    from convert.metadata_writer import contract_for, embed_metadata
    from convert.parity import load_validation
    from convert.source import load_run
    from convert.tflite import configured_converter
    from edge.detector import Detector
    from edge.evaluation import evaluate_detector

    run = load_run(a.run)
    md = run.metadata
    ds = load_validation(a.data, list(md.labels))
    calib = load_calibration(a.data / "train" / "images", md.input, a.calib_count, progress=False)
    img = cv2.imread(str(ds.samples[0].image_path))

    def score(data: bytes, name: str) -> tuple[float, float, float]:
        path = Path(f"/tmp/int8_where_{name}.tflite")
        path.write_bytes(embed_metadata(data, contract_for(md, data, "int8")))
        det = Detector.load(path, threads=a.threads, score=0.01, max_detections=100)
        res = evaluate_detector(det.detect, ds, progress=False)
        return res.map50, res.map, invoke_ms(det, img, a.iters)

    debug_data = lambda: ([x] for x in calib[: a.debug_count])  # noqa: E731
    with configured_converter(run.model, "int8", "uint8", calib) as conv:
        dbg = tf.lite.experimental.QuantizationDebugger(converter=conv, debug_dataset=debug_data)
        dbg.run()
        path = Path("/tmp/int8_where_layers.csv")
        with path.open("w") as f:
            dbg.layer_statistics_dump(f)
    import csv

    rows = list(csv.DictReader(path.open()))
    for r in rows:
        # the dump has mean_squared_error and scale; rmse/scale is the error in quantization steps
        r["rel"] = float(np.sqrt(float(r["mean_squared_error"])) / float(r["scale"]))
    names = [r["tensor_name"] for r in rows]
    print(f"{len(rows)} quantized tensors; worst rmse/scale (1.0 = one quantization step):")
    for r in sorted(rows, key=lambda r: -np.nan_to_num(r["rel"]))[: a.top]:
        print(f"  {r['rel']:6.3f}  {r['op_name']:<18} {r['tensor_name'][:90]}")

    results = []
    with configured_converter(run.model, "int8", "uint8", calib) as conv:
        results.append(("all int8", score(conv.convert(), "all")))
    for group in a.floats:
        keys = ["grid_s"] if group == "head" else group.split("+")
        keys = [k if k != "head" else "grid_s" for k in keys]
        nodes = [n for n in names if any(k in n for k in keys)]
        opts = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=nodes)
        with configured_converter(run.model, "int8", "uint8", calib) as conv:
            ops = tf.lite.OpsSet
            conv.target_spec.supported_ops = [ops.TFLITE_BUILTINS, ops.TFLITE_BUILTINS_INT8]
            dbg = tf.lite.experimental.QuantizationDebugger(converter=conv, debug_dataset=debug_data,
                                                            debug_options=opts)
            data = dbg.get_nondebug_quantized_model()
        results.append((f"float {group} ({len(nodes)} tensors)", score(data, group.replace("+", "_"))))
    print(f"{'variant':<40}{'mAP@0.5':>9}{'mAP@.5:.95':>12}{'invoke ms':>11}")
    for name, (m50, m, ms) in results:
        print(f"{name:<40}{m50:>9.4f}{m:>12.4f}{ms:>11.2f}")


if __name__ == "__main__":
    main()

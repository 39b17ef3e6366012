"""Pipeline FPS vs raw invoke() FPS, stage overheads, and NMS vs a plain Python loop.

Everything is measured side by side in one run on this machine, same thread count.
    python bench/runtime_fps.py [--threads 1 2] [--frames 300] [--repeats 3] [--cv-threads N]

Pipeline rows per model: from the 1280x720 video file (the capture thread decodes it, on the
same cores as invoke) and from the same frame held in memory (no decoder), so the decoder's
share and the pipeline's own share of any gap can be told apart; each with preprocessing on
the capture thread (the default) and on the pipeline thread. Rows are interleaved and
repeated, medians reported, because a shared VM drifts between runs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from _memsource import MemorySource  # bench/ is on sys.path when run as a script

from edge.core.boxes import iou_matrix
from edge.core.nms import nms_indices
from edge.detector import Detector
from edge.pipeline import Pipeline, PipelineOptions
from edge.sources.factory import open_source

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MODELS = {
    "ssd_v1_quant": (DATA / "ssd_mobilenet_v1_coco/ssd_mobilenet_v1_coco_quant.tflite",
                     DATA / "ssd_mobilenet_v1_coco/labelmap.txt", DATA / "ssd_mobilenet_v1_coco/cat.bmp"),
    "yolov5n_int8": (DATA / "yolov5n_coco/yolov5n-int8.tflite", DATA / "yolov5n_coco/coco.yaml",
                     DATA / "yolov5n_coco/bus.jpg"),
}


def make_video(path: Path, image: np.ndarray, frames: int) -> None:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (1280, 720))
    obj = cv2.resize(image, (640, 480))
    for i in range(frames):
        f = np.full((720, 1280, 3), 60 + (i % 40), np.uint8)
        x = 40 + (i * 3) % 560
        f[120:600, x:x + 640] = obj
        w.write(f)
    w.release()


def raw_invoke_fps(det: Detector, frame: np.ndarray, n: int) -> float:
    img, _ = det.preprocess(frame)
    for _ in range(5):
        det.backend.invoke(img)
    t = time.perf_counter()
    for _ in range(n):
        det.backend.interpreter.set_tensor(det.backend.input.index, det.backend.prepare(img))
        det.backend.interpreter.invoke()
    return n / (time.perf_counter() - t)


def python_nms(boxes, scores, thr):
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    keep = []
    for i in order:
        if all(iou_matrix(boxes[i:i + 1], boxes[k:k + 1])[0, 0] <= thr for k in keep):
            keep.append(i)
    return keep


def candidates(n: int, objects: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Detector-like candidates: jittered copies of a few objects' boxes."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.1, 0.9, (objects, 2))
    sizes = rng.uniform(0.05, 0.3, (objects, 2))
    k = rng.integers(0, objects, n)
    c = centres[k] + rng.normal(0, 0.01, (n, 2))
    wh = sizes[k] * rng.uniform(0.85, 1.15, (n, 2))
    scores = rng.uniform(0, 1, n).astype(np.float32)
    return np.concatenate([c - wh / 2, c + wh / 2], 1).astype(np.float32), scores


def bench_nms(n: int) -> tuple[float, float]:
    boxes, _ = candidates(n)
    rng = np.random.default_rng(0)
    scores = rng.uniform(0, 1, n).astype(np.float32)
    reps = 20
    t = time.perf_counter()
    for _ in range(reps):
        ours = nms_indices(boxes, scores, 0.5)
    t_ours = (time.perf_counter() - t) / reps
    t = time.perf_counter()
    ref = python_nms(boxes, scores, 0.5)
    t_ref = time.perf_counter() - t
    assert ours.tolist() == ref
    return t_ours * 1e3, t_ref * 1e3


def report(label: str, raw: float, fps: list[float], s: dict) -> None:
    st = s["stages"]
    fps_med = float(np.median(fps))
    overhead = st["preprocess"]["mean"] + st["decode"]["mean"] + st["nms"]["mean"]
    print(f"  {label:<45} pipeline {fps_med:6.1f} FPS  ratio {fps_med / raw:.3f}  "
          f"(runs: {', '.join(f'{f:.1f}' for f in fps)})")
    print(f"  {'':<45} mean ms: preprocess {st['preprocess']['mean']:.2f}, invoke "
          f"{st['invoke']['mean']:.2f}, decode {st['decode']['mean']:.2f}, nms "
          f"{st['nms']['mean']:.2f}; (pre+decode+NMS)/invoke {overhead / st['invoke']['mean']:.3f}; "
          f"capture->detections p50 {st['latency']['p50']:.1f} p95 {st['latency']['p95']:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3,
                    help="interleaved runs per row; the median is reported (a shared VM is noisy)")
    ap.add_argument("--cv-threads", type=int, default=None,
                    help="cv2.setNumThreads for resize (default: OpenCV's own choice)")
    args = ap.parse_args()
    if args.cv_threads is not None:
        cv2.setNumThreads(args.cv_threads)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"1280x720 source, {args.frames} frames, median of {args.repeats} interleaved runs; "
              f"OpenCV threads {cv2.getNumThreads()}")
        for (name, (model, labels, image_path)), threads in (
                (m, t) for m in MODELS.items() for t in args.threads):
            video = Path(tmp) / f"{name}.mp4"
            if not video.exists():
                make_video(video, cv2.imread(str(image_path)), args.frames)
            det = Detector.load(model, labels=labels, threads=threads)
            first = cv2.VideoCapture(str(video)).read()[1]
            rows = [(src, on_capture) for src in ("video", "memory") for on_capture in (True, False)]
            raws: list[float] = []
            fps: dict[tuple, list[float]] = {r: [] for r in rows}
            last: dict[tuple, dict] = {}
            for _ in range(args.repeats):
                raws.append(raw_invoke_fps(det, first, min(args.frames, 200)))
                for src, on_capture in rows:
                    source = open_source(video) if src == "video" else MemorySource(first, args.frames)
                    opts = PipelineOptions(stats_interval_s=1e9, preprocess_on_capture=on_capture)
                    last[(src, on_capture)] = Pipeline(det, source, [], opts).run()
                    fps[(src, on_capture)].append(last[(src, on_capture)]["fps"])
            raw = float(np.median(raws))
            print(f"\n{name}, {threads} thread(s): raw invoke {raw:.1f} FPS "
                  f"(runs: {', '.join(f'{r:.1f}' for r in raws)})")
            for src, on_capture in rows:
                where = "capture thread" if on_capture else "pipeline thread"
                report(f"{src} source, preprocess on {where}", raw, fps[(src, on_capture)],
                       last[(src, on_capture)])
    print("\nNMS on detector-like candidates (jittered boxes around 20 objects):")
    for n in (100, 1000, 2000, 10000):
        ours, ref = bench_nms(n)
        print(f"NMS {n:>5} candidates: ours {ours:.2f} ms, Python loop {ref:.1f} ms, "
              f"speed-up x{ref / ours:.0f} (same kept boxes)")


if __name__ == "__main__":
    main()

"""RSS growth of a long run: 10,000 frames through the full pipeline (SSD v1, 1280x720).

    python bench/memory_growth.py [--frames 10000]
Frames come from an in-memory source (one decoded 720p image, new array each read) so the
measurement is the pipeline's own growth, not a video decoder's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
from _memsource import MemorySource  # bench/ is on sys.path when run as a script

from edge.detector import Detector
from edge.outputs.jsonl import JsonlSink
from edge.pipeline import Pipeline, PipelineOptions

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ssd_mobilenet_v1_coco"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=10000)
    args = ap.parse_args()
    base = cv2.resize(cv2.imread(str(DATA / "cats_and_dogs.jpg")), (1280, 720))
    det = Detector.load(DATA / "ssd_mobilenet_v1_coco_quant.tflite", labels=DATA / "labelmap.txt",
                        threads=2)
    samples: dict[int, float] = {}

    def on_frame(i: int) -> None:
        if i in (500, 1000) or i % 2000 == 0 or i == args.frames:
            samples[i] = rss_mb()

    with open("/dev/null", "w") as devnull:
        p = Pipeline(det, MemorySource(base, args.frames, on_frame), [JsonlSink(stream=devnull)],
                     PipelineOptions(stats_interval_s=5))
        s = p.run()
    warm = samples[1000]
    print(f"{s['frames']} frames at {s['fps']:.1f} FPS")
    for i, v in sorted(samples.items()):
        print(f"  frame {i:>6}: RSS {v:7.1f} MB ({v - warm:+.1f} MB vs frame 1000)")
    print(f"growth frame 1000 -> {args.frames}: {samples[args.frames] - warm:+.2f} MB (aim <= 5 MB)")


if __name__ == "__main__":
    main()

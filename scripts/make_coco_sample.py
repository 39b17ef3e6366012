"""Make the embedded default's sample clip from the Apache-2.0 test images that come with
the COCO SSD MobileNet v1 model (cats_and_dogs.jpg, cat.bmp, grace_hopper.bmp), and copy
that model, its labels and its LICENSE into edge/assets/coco/.

Each image is resized to 640x480 and held for 2 s at 10 fps: 60 frames, ~200 KB (still
frames compress well). Resized, not letterboxed: the model stretches its input to 300x300,
so a stretched frame gives it what the published results were measured on (a letterboxed
cats_and_dogs.jpg reads as teddy bears and a couch). Run from the repo root:

    python scripts/make_coco_sample.py [--data ../shared/data/ssd_mobilenet_v1_coco]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import cv2

OUT = Path(__file__).resolve().parents[1] / "edge" / "assets" / "coco"
IMAGES = ("cats_and_dogs.jpg", "cat.bmp", "grace_hopper.bmp")
SIZE_WH, FPS, HOLD_S = (640, 480), 10, 2.0
SHIPPED = ("ssd_mobilenet_v1_coco_quant.tflite", "labelmap.txt", "LICENSE")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path,
                    default=Path(__file__).resolve().parents[2] / "shared" / "data" / "ssd_mobilenet_v1_coco")
    data = ap.parse_args().data
    OUT.mkdir(parents=True, exist_ok=True)
    for name in SHIPPED:
        shutil.copyfile(data / name, OUT / name)
    clip = OUT / "sample.mp4"
    w = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE_WH)
    for name in IMAGES:
        frame = cv2.resize(cv2.imread(str(data / name)), SIZE_WH, interpolation=cv2.INTER_AREA)
        for _ in range(int(FPS * HOLD_S)):
            w.write(frame)
    w.release()
    print(f"wrote {clip} ({clip.stat().st_size / 1024:.0f} KB) and {', '.join(SHIPPED)}")


if __name__ == "__main__":
    main()

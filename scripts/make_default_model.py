"""Regenerate the small int8 shapes detector + its clip (tests use it as a model of our own
format; the embedded default of `edge run` is the COCO model, see make_coco_sample.py).

Everything comes from our own pipeline: synthetic data (train.synth), `edge train`
(tiny-YOLO), `edge convert` (full-integer int8, calibrated, parity-checked), and a clip of
shapes moving over a textured background. Output: edge/assets/default/{shapes_int8.tflite,
shapes.mp4}. Run from the repo root (needs the [train] extra):

    python scripts/make_default_model.py [--minutes 12]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "edge" / "assets" / "default"
CLIP_WH = (320, 240)


def make_clip(path: Path, seconds: float = 6.0, fps: int = 15, seed: int = 7) -> None:
    """Shapes that enter, cross and leave the frame; a few seconds with none at all."""
    from train.synth import SHAPES, _background, _draw

    rng = np.random.default_rng(seed)
    w, h = CLIP_WH
    bg = _background(rng, h, w)
    n = int(seconds * fps)
    tracks = []  # (shape, colour, size, y, x_start, x_speed, first, last)
    for k, (first, last) in enumerate(((5, 60), (20, 75), (50, 85))):
        size = int(rng.uniform(0.22, 0.32) * h)
        colour = tuple(int(c) for c in rng.integers(60, 256, 3))
        y = int(rng.uniform(0.05, 0.6) * h)
        direction = 1 if k % 2 == 0 else -1
        x0 = -size if direction > 0 else w
        speed = direction * (w + size) / (last - first)
        tracks.append((SHAPES[k % len(SHAPES)], colour, size, y, x0, speed, first, last))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for i in range(n):
        img = bg.copy()
        for shape, colour, size, y, x0, speed, first, last in tracks:
            if first <= i <= last:
                x = int(x0 + speed * (i - first))
                # draw on a canvas wider than the frame so shapes can enter and leave
                wide = np.zeros((h, w + 2 * size, 3), np.uint8)
                _draw(wide, shape, x + size, y, x + 2 * size, y + size, colour)
                part = wide[:, size:size + w]
                on = part.any(axis=2)
                img[on] = part[on]
        writer.write(img)
    writer.release()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=12.0, help="training budget")
    ap.add_argument("--keep", type=Path, help="keep the dataset and run here")
    ap.add_argument("--reuse", action="store_true", help="reuse the run kept in --keep (convert only)")
    args = ap.parse_args()
    from convert.pipeline import ConvertOptions, convert_run
    from train.fit import TrainConfig, train
    from train.synth import make_synthetic

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="edge-default-"))
    data, run = work / "shapes", work / "run"
    if not (args.reuse and (run / "model.keras").is_file()):
        make_synthetic(data, n_train=800, n_val=120, size_wh=CLIP_WH, max_objects=3, seed=0)
        train(TrainConfig(data=data, out=run, model="tiny-yolo", input_size=160, epochs=200,
                          batch_size=16, width=0.25, patience=30, max_seconds=args.minutes * 60,
                          seed=0))
    OUT.mkdir(parents=True, exist_ok=True)
    model = OUT / "shapes_int8.tflite"
    conv = convert_run(run, model, ConvertOptions(quant="int8", calib_data=data,
                                                          calib_count=200, val_data=data))
    print(conv.text() if hasattr(conv, "text") else conv)
    make_clip(OUT / "shapes.mp4")
    print(f"wrote {model} ({model.stat().st_size / 1024:.0f} KB), "
          f"{OUT / 'shapes.mp4'} ({(OUT / 'shapes.mp4').stat().st_size / 1024:.0f} KB)")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

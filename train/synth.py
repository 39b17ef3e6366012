"""Synthetic detection data: coloured shapes on textured backgrounds, YOLO format.

For tests and the demo: a few hundred images train a tiny detector in minutes, and the
true boxes are exact (filled polygons / circles drawn from the box itself).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import yaml

SHAPES = ("square", "circle", "triangle")


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    # low-frequency colour noise plus a gradient: texture the model must learn to ignore
    small = rng.integers(0, 256, (max(2, h // 16), max(2, w // 16), 3), dtype=np.uint8)
    bg = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    grad = np.linspace(0, 60, w, dtype=np.float32)[None, :, None]
    noise = rng.normal(0, 12, (h, w, 3)).astype(np.float32)
    return np.clip(bg * 0.6 + grad + noise, 0, 255).astype(np.uint8)


def _draw(img: np.ndarray, shape: str, x0: int, y0: int, x1: int, y1: int, colour: tuple) -> None:
    if shape == "square":
        cv2.rectangle(img, (x0, y0), (x1 - 1, y1 - 1), colour, -1)
    elif shape == "circle":
        cv2.ellipse(img, (((x0 + x1 - 1) / 2, (y0 + y1 - 1) / 2), (x1 - x0 - 1, y1 - y0 - 1), 0), colour, -1)
    else:
        pts = np.array([[(x0 + x1) // 2, y0], [x0, y1 - 1], [x1 - 1, y1 - 1]], np.int32)
        cv2.fillPoly(img, [pts], colour)


def synth_image(rng: np.random.Generator, size_wh: tuple[int, int], max_objects: int,
                min_frac: float = 0.15, max_frac: float = 0.45) -> tuple[np.ndarray, list[tuple]]:
    """One BGR image and its boxes [(class_id, x0, y0, x1, y1) pixels], shapes not overlapping much."""
    w, h = size_wh
    img = _background(rng, h, w)
    boxes: list[tuple] = []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        for _try in range(20):
            side = rng.uniform(min_frac, max_frac) * min(w, h)
            bw = int(side * rng.uniform(0.75, 1.33))
            bh = int(side * rng.uniform(0.75, 1.33))
            x0 = int(rng.integers(0, max(1, w - bw)))
            y0 = int(rng.integers(0, max(1, h - bh)))
            x1, y1 = min(w, x0 + bw), min(h, y0 + bh)
            if all(x1 <= b[1] or x0 >= b[3] or y1 <= b[2] or y0 >= b[4] for b in boxes):
                break
        else:
            continue
        k = int(rng.integers(0, len(SHAPES)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if max(colour) < 80:  # keep shapes visible against the texture
            colour = (colour[0] + 150, colour[1], colour[2])
        _draw(img, SHAPES[k], x0, y0, x1, y1, colour)
        boxes.append((k, x0, y0, x1, y1))
    return img, boxes


def make_synthetic(root: Path, n_train: int = 64, n_val: int = 16, size_wh: tuple[int, int] = (160, 128),
                   max_objects: int = 4, seed: int = 0) -> Path:
    """Write root/{train,val}/{images,labels} and root/data.yaml; returns root."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    w, h = size_wh
    for split, n in (("train", n_train), ("val", n_val)):
        (root / split / "images").mkdir(parents=True, exist_ok=True)
        (root / split / "labels").mkdir(parents=True, exist_ok=True)
        for i in range(n):
            img, boxes = synth_image(rng, size_wh, max_objects)
            stem = f"{split}_{i:05d}"
            cv2.imwrite(str(root / split / "images" / f"{stem}.png"), img)
            lines = [f"{k} {(x0 + x1) / 2 / w:.6f} {(y0 + y1) / 2 / h:.6f} {(x1 - x0) / w:.6f} "
                     f"{(y1 - y0) / h:.6f}\n" for k, x0, y0, x1, y1 in boxes]
            (root / split / "labels" / f"{stem}.txt").write_text("".join(lines))
    (root / "data.yaml").write_text(yaml.safe_dump(
        {"names": list(SHAPES), "nc": len(SHAPES), "train": "train/images", "val": "val/images"},
        sort_keys=False))
    return root

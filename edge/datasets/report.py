"""The validation report printed when a dataset loads: what is in it and what is wrong."""

from __future__ import annotations

from collections import Counter

import numpy as np

from edge.datasets.types import Dataset

# box size = sqrt(area) as a fraction of the image's sqrt(area)
SIZE_BINS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.4, 1.01)


def size_histogram(ds: Dataset) -> list[tuple[str, int]]:
    xyxy, _ = ds.all_boxes()
    rel = np.sqrt(np.clip(xyxy[:, 2] - xyxy[:, 0], 0, None) * np.clip(xyxy[:, 3] - xyxy[:, 1], 0, None))
    counts, _ = np.histogram(rel, bins=SIZE_BINS)
    return [(f"{lo:.2f}-{min(hi, 1.0):.2f}", int(c)) for lo, hi, c in zip(SIZE_BINS, SIZE_BINS[1:], counts)]


def report_text(ds: Dataset) -> str:
    """Human-readable summary: images, boxes per class/image, size histogram, issues by file."""
    lines = [f"split {ds.name or '?'}: {len(ds)} images, {sum(len(s.xyxy) for s in ds.samples)} boxes"]
    counts = ds.class_counts()
    width = max((len(n) for n in ds.labels), default=5)
    for i, name in enumerate(ds.labels):
        warn = "  <- very few boxes" if counts.get(i, 0) < 10 else ""
        lines.append(f"  {name:<{width}} {counts.get(i, 0):6d}{warn}")
    per = np.array([len(s.xyxy) for s in ds.samples]) if ds.samples else np.zeros(1)
    lines.append(f"  boxes/image: mean {per.mean():.1f}, min {per.min()}, max {per.max()}")
    lines.append("  box size (sqrt area / image): " + ", ".join(f"{k}: {c}" for k, c in size_histogram(ds)))
    if ds.issues:
        kinds = Counter(i.kind for i in ds.issues)
        lines.append(f"  {len(ds.issues)} issue(s) skipped: "
                     + ", ".join(f"{k} {n}" for k, n in kinds.items()))
        lines.extend(f"    {i}" for i in ds.issues[:20])
        if len(ds.issues) > 20:
            lines.append(f"    ... and {len(ds.issues) - 20} more")
    return "\n".join(lines)

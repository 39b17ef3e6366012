"""PR curves as PNG; matplotlib is imported only here, only when plotting."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.evaluation.coco import CocoResult
from edge.extras import install_command


def save_pr_curves(result: CocoResult, path: Path, title: str = "") -> Path:
    """One precision-recall curve per class (IoU 0.5) in one PNG; returns the path."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # headless: devices and CI have no display
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise RuntimeError(f"PR curves need matplotlib: {install_command('eval')}") from e
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 5), dpi=100)
    for name, (recall, precision) in result.pr_curves.items():
        p = np.where(precision < 0, np.nan, precision)
        ap50 = result.per_class_ap50.get(name, float("nan"))
        ax.plot(recall, p, label=f"{name} ({ap50:.3f})")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(title or f"PR @ IoU 0.5 — mAP@0.5 {result.map50:.3f}, mAP {result.map:.3f}")
    if result.pr_curves:
        ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5),
                  ncol=1 + len(result.pr_curves) // 30)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path

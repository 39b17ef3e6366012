"""Training curves of one or more runs as a PNG: val mAP@[.5:.95] and mAP@0.5 per epoch and
against wall minutes (from ``history.csv``, which ``train.fit`` writes).

    python bench/plot_curves.py /tmp/bench/runs/chess_yolo-nano /tmp/bench/runs/chess_ssd --out curves.png
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path


def read_history(run: Path) -> dict[str, list[float]]:
    rows = list(csv.DictReader((run / "history.csv").open()))
    if not rows:
        raise ValueError(f"{run}/history.csv has no epochs")
    return {k: [float(r[k]) for r in rows if r.get(k) not in (None, "")] for k in rows[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path, help="run directories holding history.csv")
    ap.add_argument("--out", type=Path, default=Path("curves.png"))
    ap.add_argument("--labels", nargs="*", default=None, help="legend names (default: folder names)")
    a = ap.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_e, ax_t) = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, run in enumerate(a.runs):
        h = read_history(run)
        name = a.labels[i] if a.labels and i < len(a.labels) else run.name
        epochs = list(range(1, len(h["val_map"]) + 1))
        minutes, t = [], 0.0
        for s in h.get("epoch_s", [float("nan")] * len(epochs)):
            t += s
            minutes.append(t / 60)
        for key, style in (("val_map", "-"), ("val_map50", "--")):
            label = f"{name} {'mAP@[.5:.95]' if key == 'val_map' else 'mAP@0.5'}"
            ax_e.plot(epochs, h[key], style, color=f"C{i}", label=label)
            ax_t.plot(minutes, h[key], style, color=f"C{i}", label=label)
    ax_e.set_xlabel("epoch")
    ax_t.set_xlabel("minutes (train + val, excluding checkpoint saves)")
    for ax in (ax_e, ax_t):
        ax.set_ylabel("validation mAP")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    ax_e.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out, dpi=110)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()

"""Profile output: terminal table, CSV, JSON, and the mAP-vs-FPS plot with the Pareto front."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from edge.profile.measure import VariantResult


def pareto_front(rows: list[VariantResult]) -> list[VariantResult]:
    """Variants no other variant beats on both FPS and mAP@0.5."""
    ok = [r for r in rows if r.ok and r.fps is not None and r.map50 is not None]
    front = [r for r in ok if not any(
        o is not r and o.fps >= r.fps and o.map50 >= r.map50 and (o.fps > r.fps or o.map50 > r.map50)
        for o in ok)]
    return sorted(front, key=lambda r: r.fps)


def recommend(rows: list[VariantResult], min_fps: float | None = None,
              min_map: float | None = None) -> tuple[VariantResult | None, str]:
    front = pareto_front(rows)
    timed = [r for r in rows if r.ok and r.fps is not None]
    if not front and timed and min_map is None:  # timed but not scored (no pycocotools)
        pick = max(timed, key=lambda r: r.fps)
        if min_fps is not None and pick.fps < min_fps:
            return None, f"no variant reaches {min_fps:g} FPS (fastest: {pick.name} at {pick.fps:.1f} FPS)"
        return pick, "fastest variant (mAP not measured)"
    if not front:
        return None, "no variant could be measured"
    if min_fps is not None:
        fast = [r for r in front if r.fps >= min_fps]
        if not fast:
            best = max(front, key=lambda r: r.fps)
            return None, (f"no variant reaches {min_fps:g} FPS (fastest: {best.name} at "
                          f"{best.fps:.1f} FPS); try a smaller input, int8, or an Edge TPU")
        pick = max(fast, key=lambda r: r.map50)
        return pick, f"most accurate variant at >= {min_fps:g} FPS"
    if min_map is not None:
        good = [r for r in front if r.map50 >= min_map]
        if not good:
            best = max(front, key=lambda r: r.map50)
            return None, (f"no variant reaches mAP@0.5 {min_map:g} (best: {best.name} at "
                          f"{best.map50:.3f})")
        pick = max(good, key=lambda r: r.fps)
        return pick, f"fastest variant with mAP@0.5 >= {min_map:g}"
    best = max(r.map50 for r in front)
    pick = max((r for r in front if r.map50 >= best - 0.02), key=lambda r: r.fps)
    return pick, "fastest variant within 0.02 mAP@0.5 of the most accurate"


def _fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def table(rows: list[VariantResult]) -> str:
    head = ["variant", "size MB", "RSS MB", "quant", "mAP@.5", "mAP", "pre p50", "invoke p50",
            "invoke p95", "post p50", "e2e p50", "e2e p95", "FPS", "±", "video FPS"]
    body = []
    for r in rows:
        if not r.ok:
            err = r.error if len(r.error) <= 90 else r.error[:87] + "..."
            body.append([r.name, _fmt(r.size_mb, ".2f")] + ["-"] * 12 + [f"FAILED: {err}"])
            continue
        lat = r.latency_ms
        body.append([r.name, f"{r.size_mb:.2f}", f"{r.peak_rss_mb:.0f}", r.quantization,
                     _fmt(r.map50, ".3f"), _fmt(r.map, ".3f"),
                     f"{lat['preprocess']['p50']:.2f}", f"{lat['invoke']['p50']:.2f}",
                     f"{lat['invoke']['p95']:.2f}", f"{lat['decode_nms']['p50']:.2f}",
                     f"{lat['end_to_end']['p50']:.2f}", f"{lat['end_to_end']['p95']:.2f}",
                     f"{r.fps:.1f}", f"{r.fps_std:.1f}", _fmt(r.video_fps, ".1f")])
    widths = [max(len(str(x[i])) for x in [head] + body) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(head, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)) for row in body]
    return "\n".join(lines) + "\n(latencies in ms; post = decode + NMS; FPS ± std over repetitions)"


def write_csv(rows: list[VariantResult], path: Path) -> None:
    fields = ["name", "model", "threads", "delegate", "ok", "error", "size_mb", "peak_rss_mb",
              "quantization", "map50", "map", "fps", "fps_std", "video_fps"]
    stages = ["preprocess", "invoke", "decode_nms", "end_to_end"]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(fields + [f"{s}_{q}_ms" for s in stages for q in ("p50", "p95")])
        for r in rows:
            d = r.to_dict()
            w.writerow([d[f] for f in fields] + [
                r.latency_ms.get(s, {}).get(q, "") for s in stages for q in ("p50", "p95")])


def write_json(rows: list[VariantResult], path: Path, recommendation: dict) -> None:
    path.write_text(json.dumps({"variants": [r.to_dict() for r in rows],
                                "pareto": [r.name for r in pareto_front(rows)],
                                "recommendation": recommendation}, indent=2, default=str))


def plot(rows: list[VariantResult], path: Path, pick: VariantResult | None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if r.ok and r.fps is not None and r.map50 is not None]
    front = pareto_front(rows)
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=100)
    ax.scatter([r.fps for r in ok], [r.map50 for r in ok], s=60, color="tab:blue", zorder=3,
               label="variant")
    if front:
        ax.plot([r.fps for r in front], [r.map50 for r in front], "--", color="tab:orange",
                zorder=2, label="Pareto front")
    if pick is not None:
        ax.scatter([pick.fps], [pick.map50], s=250, facecolors="none", edgecolors="tab:red",
                   linewidths=2, zorder=4, label=f"recommended: {pick.name}")
    for r in ok:
        ax.annotate(f"{r.name}\n{r.size_mb:.1f} MB", (r.fps, r.map50), textcoords="offset points",
                    xytext=(6, 4), fontsize=7)
    ax.set_xlabel("end-to-end FPS (preprocess + invoke + decode + NMS)")
    ax.set_ylabel("mAP@0.5")
    ax.set_title("edge profile: accuracy vs speed on this device")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def missing_variant_hints(rows: list[VariantResult]) -> list[str]:
    """For our own models, the `edge convert` commands that make the variants not profiled."""
    from edge.core.metadata import read_metadata

    have: dict[str, set[str]] = {}
    for r in rows:
        if not r.ok:
            continue
        try:
            md = read_metadata(r.model)
        except Exception:  # noqa: BLE001 - a foreign or odd file simply gives no hint
            continue
        run = md.provenance.get("run") if md else None
        if run:
            have.setdefault(str(run), set()).add(str(md.provenance.get("quantization", "")))
    hints = []
    for run, quants in sorted(have.items()):
        for q in ("fp32", "fp16", "int8"):
            if q not in quants:
                extra = " --calib-data DATA" if q == "int8" else ""
                out = Path(run) / f"model_{q}.tflite"
                hints.append(f"edge convert --model {run} --quant {q}{extra} --out {out}")
    return hints

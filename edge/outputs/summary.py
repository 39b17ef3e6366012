"""The end-of-run stats for a person: a short table instead of a 900-character JSON line
(``edge run --summary-json`` keeps the JSON for programs)."""

from __future__ import annotations

ROWS = ("capture_wait", "preprocess", "invoke", "decode", "nms", "output", "latency", "total")
UNPACED = ("file source, unpaced: how fast this machine decodes and detects, not a camera's "
           "frame rate")


def fps_label(live: bool) -> str:
    """Why the FPS of a file differs from a camera's: a file is read as fast as the model
    goes, so its FPS is this box's throughput, not the rate frames arrived at."""
    return "live source" if live else UNPACED


def format_summary(s: dict) -> str:
    """``s``: ``Pipeline.summary()``. A few lines: frames and FPS, a per-stage table in ms
    (p50/p95/p99/mean), then drops, capture and output problems when there were any."""
    lines = [f"{s.get('frames', 0)} frames, {s.get('fps', 0.0):.1f} FPS "
             f"({fps_label(bool(s.get('live', True)))})"]
    stages = s.get("stages", {})
    rows = [r for r in ROWS if r in stages]
    if rows:
        lines.append(f"{'stage (ms)':<14}{'p50':>9}{'p95':>9}{'p99':>9}{'mean':>9}")
        for r in rows:
            v = stages[r]
            lines.append(f"{r:<14}" + "".join(f"{v[k]:>9.1f}" for k in ("p50", "p95", "p99", "mean")))
    notes = []
    if s.get("dropped_stale"):
        notes.append(f"{s['dropped_stale']} stale frames dropped")
    if s.get("over_budget"):
        notes.append(f"{s['over_budget']} frames over the latency budget")
    cap = s.get("capture") or {}
    if cap.get("overwritten"):
        notes.append(f"{cap['overwritten']} frames replaced by newer ones before detection")
    if cap.get("reconnects"):
        notes.append(f"{cap['reconnects']} source reconnects")
    if s.get("sink_errors"):
        notes.append("output errors: " + ", ".join(f"{k} {v}" for k, v in s["sink_errors"].items()))
    lines.extend(notes)
    return "\n".join(lines)

"""One evaluation of every health state from a snapshot of the running device.

Pure functions of a ``Snapshot`` (what the monitor read from the pipeline, the capture
thread, the MQTT queue, the disk and the thermal sensors at one instant), so each rule is
written once and reads the same in docs/health.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edge.health.config import HealthConfig
from edge.health.thermal import describe_throttled

Result = tuple[bool, str]  # (on, detail)


@dataclass(frozen=True)
class Snapshot:
    """Times are ``time.monotonic()`` seconds; None: not known (yet)."""

    now: float
    started_at: float  # the pipeline's start (or the monitor's, before it runs)
    source: str = "camera"
    capture_running: bool = False
    live: bool = True  # a camera/stream; False: a file the capture thread reads at our pace
    last_frame_at: float | None = None
    reconnecting: bool = False
    reconnect_attempt: int = 0
    pending_since: float | None = None  # since when a captured frame waits for the pipeline
    last_detect_at: float | None = None
    dropped_stale: int = 0
    fps: float | None = None  # over the FPS window; None until a full window has passed
    delegate_expected: str = "cpu"
    delegate_running: str = "cpu"
    detect_error: str | None = None
    queue_len: int | None = None  # None: no MQTT queue
    queue_max: int = 1
    queue_bytes: int = 0
    queue_max_bytes: int = 1
    disk_free_mb: float | None = None
    disk_path: str = ""
    temp_c: float | None = None
    throttled_bits: int | None = None
    probe_errors: dict[str, str] = field(default_factory=dict)  # state -> why it is unknown


def evaluate(s: Snapshot, cfg: HealthConfig, was_on: dict[str, bool]) -> dict[str, Result]:
    """state -> (on, detail). ``was_on``: the previous values (for hysteresis)."""
    return {
        "camera_stalled": camera_stalled(s, cfg),
        "detector_stalled": detector_stalled(s, cfg),
        "fps_low": fps_low(s, cfg),
        "delegate_lost": delegate_lost(s),
        "queue_full": queue_full(s, cfg, was_on.get("queue_full", False)),
        "throttled": throttled(s, cfg, was_on.get("throttled", False)),
    }


def camera_stalled(s: Snapshot, cfg: HealthConfig) -> Result:
    if s.reconnecting:
        return True, (f"{s.source}: disconnected, reconnecting"
                      + (f" (attempt {s.reconnect_attempt} failed)" if s.reconnect_attempt else ""))
    ref = s.last_frame_at if s.last_frame_at is not None else s.started_at
    idle = s.now - ref
    # a file source waiting for the pipeline (a frame pending) is held back, not stalled
    held_back = not s.live and s.pending_since is not None
    if idle > cfg.camera_stall_s and not held_back:
        what = "no frame" if s.last_frame_at is None else "no new frame"
        return True, f"{s.source}: {what} for {idle:.1f} s (camera_stall_s {cfg.camera_stall_s:g})"
    return False, "frames arriving" if s.last_frame_at is not None else "starting"


def detector_stalled(s: Snapshot, cfg: HealthConfig) -> Result:
    # measured from when a frame started waiting, not from the last detection: after a
    # camera outage the model has been idle for long, but nothing waited for it
    waited = 0.0 if s.pending_since is None else s.now - s.pending_since
    if s.capture_running and waited > cfg.detector_stall_s:
        ref = s.last_detect_at if s.last_detect_at is not None else s.started_at
        return True, (f"a frame has waited {waited:.1f} s for the model (detector_stall_s "
                      f"{cfg.detector_stall_s:g}); the last came out {s.now - ref:.1f} s ago")
    return False, "frames through the model" if s.last_detect_at is not None else "starting"


def fps_low(s: Snapshot, cfg: HealthConfig) -> Result:
    if cfg.min_fps is None:
        return False, "not checked (health.min_fps not set)"
    if s.fps is None:
        return False, f"measuring (first {cfg.fps_window_s:g} s)"
    if s.fps < cfg.min_fps:
        return True, f"{s.fps:.2f} FPS over {cfg.fps_window_s:g} s < min_fps {cfg.min_fps:g}"
    return False, f"{s.fps:.2f} FPS"


def delegate_lost(s: Snapshot) -> Result:
    if s.detect_error is not None:
        return True, f"{s.delegate_running} invoke failed: {s.detect_error}"
    if s.delegate_expected != s.delegate_running:
        return True, (f"configured delegate {s.delegate_expected} but the model runs on "
                      f"{s.delegate_running}")
    return False, f"running on {s.delegate_running}"


def queue_full(s: Snapshot, cfg: HealthConfig, was_on: bool = False) -> Result:
    problems = []
    if s.queue_len is not None:
        fill = max(s.queue_len / s.queue_max, s.queue_bytes / s.queue_max_bytes)
        if fill > cfg.queue_full_ratio:
            problems.append(f"MQTT queue {s.queue_len}/{s.queue_max} messages, "
                            f"{s.queue_bytes / 1048576:.1f}/{s.queue_max_bytes / 1048576:.1f} MB "
                            f"(> {cfg.queue_full_ratio:.0%})")
    if cfg.disk_min_free_mb and s.disk_free_mb is not None and s.disk_free_mb < cfg.disk_min_free_mb:
        problems.append(f"{s.disk_free_mb:.0f} MB free on {s.disk_path} "
                        f"(< disk_min_free_mb {cfg.disk_min_free_mb:g})")
    if problems:
        return True, "; ".join(problems)
    if "queue_full" in s.probe_errors:  # unknown is not healthy: keep the last value
        return was_on, f"unknown: {s.probe_errors['queue_full']}"
    parts = [] if s.queue_len is None else [f"MQTT queue {s.queue_len}/{s.queue_max}"]
    if s.disk_free_mb is not None:
        parts.append(f"{s.disk_free_mb:.0f} MB free")
    return False, ", ".join(parts) or "no MQTT queue"


def throttled(s: Snapshot, cfg: HealthConfig, was_on: bool) -> Result:
    problems = []
    if s.temp_c is not None:
        # hysteresis: a SoC hovering at the limit must not flap the state every check
        limit = cfg.temp_max_c - cfg.temp_hysteresis_c if was_on else cfg.temp_max_c
        if s.temp_c >= limit:
            problems.append(f"SoC {s.temp_c:.1f} °C (temp_max_c {cfg.temp_max_c:g})")
    if s.throttled_bits:
        now = describe_throttled(s.throttled_bits)
        if now:
            problems.append(f"vcgencmd get_throttled=0x{s.throttled_bits:x}: {', '.join(now)}")
    if problems:
        return True, "; ".join(problems)
    if "throttled" in s.probe_errors:  # unknown is not healthy: keep the last value
        return was_on, f"unknown: {s.probe_errors['throttled']}"
    if s.temp_c is None and s.throttled_bits is None:
        return False, "no thermal sensor or vcgencmd here"
    return False, "ok" if s.temp_c is None else f"SoC {s.temp_c:.1f} °C"

"""Raspberry Pi temperature and throttling: the kernel's thermal zone file and the
firmware's ``vcgencmd get_throttled``. Both are optional: absent on a PC, a container
without /sys, or a board without the firmware tool; then the check reports that."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

# bits of `vcgencmd get_throttled` that describe *now* (16-19: "has happened since boot")
THROTTLE_NOW = {0: "under-voltage", 1: "ARM frequency capped", 2: "throttled",
                3: "soft temperature limit"}
_TIMEOUT_S = 3.0


def read_temp_c(path: Path | None) -> float | None:
    """SoC temperature in °C from a thermal zone file (millidegrees, e.g. ``48312``);
    None when ``path`` is None or absent. ValueError names the file when it is garbled."""
    if path is None or not path.exists():
        return None
    text = path.read_text().strip()
    try:
        return int(text) / 1000.0
    except ValueError:
        raise ValueError(f"health.thermal_path {path}: expected millidegrees C (an integer "
                         f"such as 48312), got {text[:40]!r}") from None


def read_throttled(command: str | None) -> int | None:
    """The ``get_throttled`` bit field, or None when ``command`` is None or not installed.
    RuntimeError says what went wrong when it is installed but fails."""
    if command is None:
        return None
    exe = shutil.which(command)
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, "get_throttled"], capture_output=True, text=True,
                              timeout=_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RuntimeError(f"health.vcgencmd {exe}: {e}") from e
    out = done.stdout.strip()
    if done.returncode != 0 or not out.startswith("throttled="):
        raise RuntimeError(f"health.vcgencmd {exe} get_throttled: expected 'throttled=0x...', "
                           f"got {(out or done.stderr.strip())[:80]!r} (exit {done.returncode})")
    try:
        return int(out.split("=", 1)[1], 16)
    except ValueError:
        raise RuntimeError(f"health.vcgencmd {exe} get_throttled: {out[:80]!r} is not a hex "
                           "bit field") from None


def describe_throttled(bits: int) -> list[str]:
    """Names of the *current* conditions set in a ``get_throttled`` bit field."""
    return [name for bit, name in THROTTLE_NOW.items() if bits & (1 << bit)]

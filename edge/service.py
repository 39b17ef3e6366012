"""systemd integration: READY/WATCHDOG/STATUS notifications over $NOTIFY_SOCKET.

The sd_notify protocol is one datagram per message, so no libsystemd is needed. Without
$NOTIFY_SOCKET (not under systemd) every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


def install_stop_handlers(stop: Callable[[], None]) -> dict:
    """SIGINT and SIGTERM call ``stop()`` (systemd stops a service with SIGTERM); returns the
    handlers they replaced, for ``restore_handlers``. Off the main thread (tests, embedding)
    nothing is installed: the caller stops us."""
    previous = {}

    def _stop(signum, _frame):
        log.info("signal %d: stopping after the current frame", signum)
        stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, _stop)
        except ValueError:  # not the main thread
            pass
    return previous


def restore_handlers(previous: dict) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


class SystemdNotifier:
    def __init__(self, min_interval_s: float | None = None) -> None:
        self.address = os.environ.get("NOTIFY_SOCKET")
        usec = os.environ.get("WATCHDOG_USEC")
        # ping at a third of the watchdog period: two missed pings still leave slack
        default = int(usec) / 1e6 / 3 if usec and usec.isdigit() else 5.0
        self.min_interval_s = default if min_interval_s is None else min_interval_s
        self._last = 0.0
        self._sock: socket.socket | None = None
        if self.address:
            if self.address.startswith("@"):  # abstract namespace
                self.address = "\0" + self.address[1:]
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def notify(self, message: str) -> None:
        if self._sock is None:
            return
        try:
            self._sock.sendto(message.encode(), self.address)
        except OSError as e:  # systemd gone: log once per call, never stop detecting
            log.warning("sd_notify %r failed: %s", message, e)

    def ready(self, status: str = "") -> None:
        self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._last >= self.min_interval_s:
            self._last = now
            self.notify("WATCHDOG=1")

    def stopping(self) -> None:
        self.notify("STOPPING=1")

"""A real Mosquitto broker on a free loopback port, for tests that need one."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.helpers.mjpeg_server import free_port


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if found is None:
        raise RuntimeError("mosquitto is not installed: apt-get install -y mosquitto (scripts/test.sh does)")
    return found


class Broker:
    def __init__(self, workdir: Path, port: int | None = None, password_file: Path | None = None) -> None:
        self.port = port or free_port()
        self.workdir = workdir
        self.password_file = password_file
        self.proc: subprocess.Popen | None = None

    def start(self) -> Broker:
        conf = self.workdir / f"mosquitto-{self.port}.conf"
        lines = [f"listener {self.port} 127.0.0.1", "persistence false"]
        lines += [f"password_file {self.password_file}", "allow_anonymous false"] if self.password_file \
            else ["allow_anonymous true"]
        conf.write_text("\n".join(lines) + "\n")
        self.proc = subprocess.Popen([mosquitto_binary(), "-c", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(5)
            self.proc = None

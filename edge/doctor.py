"""``edge doctor``: check a box end to end and say how to fix each failure."""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click
import numpy as np

if TYPE_CHECKING:
    from edge.alerts.config import AlertsConfig
    from edge.config import EdgeConfig

OK, FAIL, WARN, SKIP = "ok", "FAIL", "warn", "skip"
MIN_FREE_MB = 200


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""


def _guard(name: str, fn: Callable[[], Check]) -> Check:
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - a check that crashes is a failed check, reported
        return Check(name, FAIL, f"{type(e).__name__}: {e}", "see the message above")


def check_runtime() -> Check:
    from edge.backends.runtime import INSTALL_HINT, interpreter_module

    try:
        name, _ = interpreter_module()
    except RuntimeError:
        return Check("interpreter", FAIL, "no TFLite interpreter installed", INSTALL_HINT)
    return Check("interpreter", OK, name)


def check_model(model: Path, labels: Path | None, threads: int | None, delegate: str):
    from edge.detector import Detector

    det = Detector.load(model, labels=labels, threads=threads, delegate=delegate)
    n = len(det.labels) if det.labels else 0
    return det, Check("model", OK, f"{model.name}: {det.decoder.name} decoder ({det.decoder_how}), "
                      f"input {det.input_wh[0]}x{det.input_wh[1]} {det.backend.input.dtype.name}, "
                      f"{n} labels")


def check_edgetpu(required: bool) -> Check:
    import platform

    from edge.backends.runtime import interpreter_module
    from edge.backends.tflite import _EDGETPU_LIB, EDGETPU_HINT

    lib = _EDGETPU_LIB.get(platform.system(), "libedgetpu.so.1")
    _, mod = interpreter_module()
    try:
        mod.load_delegate(lib)
    except (ValueError, OSError, RuntimeError) as e:
        return Check("edge tpu", FAIL if required else SKIP,
                     f"{lib} not loadable ({str(e).splitlines()[0][:120]})",
                     EDGETPU_HINT if required else "")
    return Check("edge tpu", OK, f"{lib} loaded: accelerator present")


def check_camera(source, size_wh, fps, frames: int = 5, timeout_s: float = 10.0):
    from edge.sources.factory import open_source

    src = open_source(source, size_wh, fps)
    t0 = time.monotonic()
    src.open()
    got = []
    try:
        while len(got) < frames and time.monotonic() - t0 < timeout_s:
            img = src.read()
            if img is None:
                break
            got.append(img)
    finally:
        src.close()
    if not got:
        return None, Check("camera", FAIL, f"{src.name}: opened but delivered no frame",
                           "check the cable/stream; `v4l2-ctl --list-devices`, `rpicam-hello`")
    h, w = got[0].shape[:2]
    elapsed = time.monotonic() - t0
    status, fix = OK, ""
    if size_wh and tuple(size_wh) != (w, h) and src.is_live:
        status, fix = WARN, f"camera gives {w}x{h}; set camera.size_wh to a mode it supports"
    rate = f", {len(got) / elapsed:.1f} frames/s" if src.is_live else ""
    return got[-1], Check("camera", status, f"{src.name}: {len(got)} frames of {w}x{h}{rate}", fix)


def check_speed(det, frame: np.ndarray, budget_ms: float | None, runs: int = 10) -> Check:
    for _ in range(2):
        det.detect(frame)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        det.detect(frame)
        times.append((time.perf_counter() - t) * 1e3)
    p50 = float(np.percentile(times, 50))
    detail = f"detect p50 {p50:.1f} ms ({1000 / p50:.1f} FPS max)"
    if budget_ms is not None and p50 > budget_ms:
        return Check("speed", FAIL, detail + f" > latency budget {budget_ms:.0f} ms",
                     "raise latency_budget_ms, use more threads, a smaller/int8 model "
                     "(`edge profile` compares them) or an Edge TPU")
    return Check("speed", OK, detail + (f", within budget {budget_ms:.0f} ms" if budget_ms else ""))


def check_broker(mqtt_cfg) -> Check:
    import paho.mqtt.client as mqtt

    from edge.alerts.sinks.mqtt import apply_credentials

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"edge-doctor-{os.getpid()}")
    user = apply_credentials(client, mqtt_cfg)
    result: dict = {}
    client.on_connect = lambda c, u, f, rc, p: result.setdefault("rc", rc)
    where = f"{mqtt_cfg.host}:{mqtt_cfg.port}"
    try:
        client.connect(mqtt_cfg.host, mqtt_cfg.port, keepalive=10)
    except (OSError, socket.gaierror) as e:
        return Check("mqtt broker", FAIL, f"{where}: {e}",
                     "start the broker / check host and port and the firewall")
    client.loop_start()
    end = time.monotonic() + 5
    while "rc" not in result and time.monotonic() < end:
        time.sleep(0.05)
    client.disconnect()
    client.loop_stop()
    rc = result.get("rc")
    if rc is None:
        return Check("mqtt broker", FAIL, f"{where}: no CONNACK within 5 s", "check host/port/TLS")
    if rc.is_failure:
        return Check("mqtt broker", FAIL, f"{where}: refused: {rc}",
                     "check username/password (config or EDGE_MQTT_USERNAME/PASSWORD) and the ACL")
    return Check("mqtt broker", OK, f"{where}: connected" + (f" as {user}" if user else ""))


def check_gpio(gpio_cfg: dict) -> Check:
    pins = {name: out.pin for name, out in gpio_cfg.items()}
    try:
        from gpiozero import Device, DigitalOutputDevice
    except ImportError:
        return Check("gpio", FAIL, "gpiozero not installed", "pip install gpiozero")
    opened = []
    name, pin = "", -1
    try:
        for name, pin in pins.items():  # noqa: B007 - the failing one is reported below
            opened.append(DigitalOutputDevice(pin))
    except Exception as e:  # noqa: BLE001 - gpiozero raises many types for "no GPIO here"
        return Check("gpio", FAIL, f"cannot drive pin {pin} ({name}): {type(e).__name__}: {e}",
                     "run on a Raspberry Pi with `sudo apt install python3-lgpio` (or pip "
                     "install lgpio), in the gpio group; or GPIOZERO_PIN_FACTORY=mock to test")
    finally:
        for dev in opened:
            dev.close()
    factory = type(Device.pin_factory).__name__ if Device.pin_factory else "?"
    return Check("gpio", OK, f"pins {sorted(pins.values())} available ({factory})")


def check_disk(paths: list[Path]) -> list[Check]:
    out = []
    for p in paths:
        folder = p if p.suffix == "" else p.parent
        probe = folder
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        free_mb = shutil.disk_usage(probe).free / 2**20
        writable = os.access(probe, os.W_OK)
        if not writable:
            out.append(Check(f"disk {folder}", FAIL, f"{probe} not writable",
                             f"sudo mkdir -p {folder} && sudo chown edge: {folder}"))
        elif free_mb < MIN_FREE_MB:
            out.append(Check(f"disk {folder}", FAIL, f"{free_mb:.0f} MB free (< {MIN_FREE_MB})",
                             "free space or lower snapshots.keep / mqtt.queue_max"))
        else:
            out.append(Check(f"disk {folder}", OK, f"{free_mb:.0f} MB free, writable"))
    return out


def check_rules(cfg: EdgeConfig) -> Check:
    """Every rule label is a class the loaded model produces (else the rule never fires)."""
    from edge.alerts.labels import check_rule_labels, model_labels

    if not cfg.alerts.rules:
        return Check("alert rules", SKIP, "no rules configured")
    try:
        check_rule_labels(cfg.alerts.rules, model_labels(cfg.model, cfg.labels), cfg.model)
    except ValueError as e:
        return Check("alert rules", FAIL, str(e), "change the rule's labels, or use a model "
                     "(or labels file) that has that class")
    return Check("alert rules", OK, f"{len(cfg.alerts.rules)} rule(s) match the model's labels")


def run_checks(cfg: EdgeConfig) -> list[Check]:
    """All checks for an EdgeConfig; every failure carries a fix."""
    checks = [_guard("interpreter", check_runtime)]
    checks.append(_guard("edge tpu", lambda: check_edgetpu(cfg.delegate == "edgetpu")))
    det = None
    try:
        det, c = check_model(cfg.model, cfg.labels, cfg.threads, cfg.delegate)
        checks.append(c)
    except Exception as e:  # noqa: BLE001
        checks.append(Check("model", FAIL, str(e), "copy the model named in the config, or run "
                            "`edge convert` again"))
    frame = None
    try:
        frame, c = check_camera(cfg.source, cfg.camera.size_wh, cfg.camera.fps)
        checks.append(c)
    except Exception as e:  # noqa: BLE001
        checks.append(Check("camera", FAIL, str(e), "plug the camera in / enable it "
                            "(`sudo raspi-config`), check the source in the config"))
    if det is not None:
        img = frame if frame is not None else np.full((480, 640, 3), 114, np.uint8)
        checks.append(_guard("speed", lambda: check_speed(det, img, cfg.latency_budget_ms)))
    else:
        checks.append(Check("speed", SKIP, "no model loaded"))
    checks.append(_guard("alert rules", lambda: check_rules(cfg)))
    return checks + alert_checks(cfg.alerts)


def alert_checks(alerts: AlertsConfig) -> list[Check]:
    """Broker reachable, GPIO pins drivable, alert folders writable."""
    checks = []
    if alerts.mqtt is not None:
        checks.append(_guard("mqtt broker", lambda: check_broker(alerts.mqtt)))
    else:
        checks.append(Check("mqtt broker", SKIP, "no mqtt section"))
    checks.append(_guard("gpio", lambda: check_gpio(alerts.gpio)) if alerts.gpio
                  else Check("gpio", SKIP, "no gpio outputs configured"))
    mqtt = alerts.mqtt
    disk = [p for p in (alerts.snapshots.dir if alerts.snapshots else None,
                        mqtt.queue_path if mqtt and mqtt.queue_path else None,
                        alerts.event_log.path if alerts.event_log else None) if p is not None]
    checks.extend(check_disk([Path(p) for p in disk]) if disk else
                  [Check("disk", SKIP, "nothing written to disk")])
    return checks


def format_checks(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        lines.append(f"[{c.status:>4}] {c.name:<{width}}  {c.detail}")
        if c.fix and c.status in (FAIL, WARN):
            lines.append(f"       {'':<{width}}  fix: {c.fix}")
    return "\n".join(lines)


EXAMPLES = """
\b
Examples:
  edge doctor --config /etc/edge/config.yaml       # what the installed service runs
  edge doctor --config firmware_configs/pi5-coral.yaml
"""


@click.command("doctor", epilog=EXAMPLES)
@click.option("--config", "config_path", type=click.Path(path_type=Path), required=True,
              help="Device YAML to check (the one the service runs).")
def doctor_command(config_path: Path) -> None:
    """Check this box: model, delegate, camera, speed vs budget, broker, GPIO, disk.

    Exits non-zero when a check fails; each failure says how to fix it.
    """
    from edge.config import load_config

    try:
        cfg = load_config(config_path)
    except ValueError as e:
        raise click.ClickException(str(e)) from e
    checks = run_checks(cfg)
    click.echo(format_checks(checks))
    failed = [c for c in checks if c.status == FAIL]
    if failed:
        raise click.ClickException(f"{len(failed)} check(s) failed: {', '.join(c.name for c in failed)}")
    click.echo("all checks passed")

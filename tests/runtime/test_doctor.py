"""`edge doctor` on this machine: no camera, no Edge TPU; a real broker on loopback."""

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from edge.cli import cli
from tests.helpers.broker import Broker


def write_config(path, ssd_dir, source, port, extra=""):
    path.write_text(
        f"device: doctor-test\nmodel: {ssd_dir / 'ssd_mobilenet_v1_coco_quant.tflite'}\n"
        f"labels: {ssd_dir / 'labelmap.txt'}\nsource: {source}\nlatency_budget_ms: 2000\n"
        f"mqtt: {{host: 127.0.0.1, port: {port}, queue_path: {path.parent / 'q' / 'queue.db'}}}\n"
        f"snapshots: {{dir: {path.parent / 'snaps'}}}\n" + extra)


@pytest.fixture
def clip(tmp_path, ssd_dir):
    p = tmp_path / "clip.mp4"
    w = cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 240))
    img = cv2.resize(cv2.imread(str(ssd_dir / "cat.bmp")), (320, 240))
    for _ in range(8):
        w.write(img)
    w.release()
    return p


def test_doctor_passes_what_can_pass(tmp_path, ssd_dir, clip, monkeypatch):
    from gpiozero import Device

    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")  # gpiozero's own mock pins
    monkeypatch.setattr(Device, "pin_factory", None)  # the factory is chosen at first use
    broker = Broker(tmp_path).start()
    try:
        cfg = tmp_path / "box.yaml"
        write_config(cfg, ssd_dir, clip, broker.port, "gpio: {buzzer: {pin: 17, seconds: 1}}\n")
        res = CliRunner().invoke(cli, ["-q", "doctor", "--config", str(cfg)])
    finally:
        broker.stop()
    assert res.exit_code == 0, res.output
    for name in ("interpreter", "model", "camera", "speed", "mqtt broker", "gpio"):
        ok_lines = [line for line in res.output.splitlines() if line.startswith("[  ok]")]
        assert any(f" {name} " in line + " " for line in ok_lines), name
    assert "[skip] edge tpu" in res.output and "all checks passed" in res.output


def test_doctor_reports_each_failure_with_a_fix(tmp_path, ssd_dir, monkeypatch):
    from gpiozero import Device

    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    monkeypatch.setattr(Device, "pin_factory", None)  # no Pi here: no factory can load
    cfg = tmp_path / "box.yaml"
    from tests.helpers.net import free_port

    write_config(cfg, ssd_dir, "/dev/video97", free_port(),
                 "delegate: edgetpu\ngpio: {buzzer: {pin: 17, seconds: 1}}\n")
    res = CliRunner().invoke(cli, ["-q", "doctor", "--config", str(cfg)])
    assert res.exit_code != 0
    out = res.output.splitlines()
    failed = [i for i, line in enumerate(out) if line.startswith("[FAIL]")]
    names = {out[i].split("]")[1].split()[0] for i in failed}
    assert {"edge", "model", "camera", "mqtt", "gpio"} <= names
    for i in failed:  # every failure is followed by its fix
        assert out[i + 1].strip().startswith("fix: ")
    assert "libedgetpu1-std" in res.output and "Connection refused" in res.output
    assert "check(s) failed" in out[-1]


def test_doctor_speed_check_fails_over_budget(ssd_dir):
    from edge.detector import Detector
    from edge.doctor import FAIL, check_speed

    det = Detector.load(ssd_dir / "ssd_mobilenet_v1_coco_quant.tflite")
    c = check_speed(det, np.zeros((240, 320, 3), np.uint8), budget_ms=0.001, runs=3)
    assert c.status == FAIL and "edge profile" in c.fix

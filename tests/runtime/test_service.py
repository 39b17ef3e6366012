"""systemd notifications from a real run, through a real AF_UNIX datagram socket."""

import socket

from edge.app import RunSettings, run


def test_run_sends_ready_and_watchdog_heartbeats(ssd_dir, tmp_path, monkeypatch):
    sock_path = tmp_path / "notify.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(sock_path))
    server.settimeout(2)
    monkeypatch.setenv("NOTIFY_SOCKET", str(sock_path))
    monkeypatch.setenv("WATCHDOG_USEC", "3")  # ping as often as possible
    src = tmp_path / "imgs"
    src.mkdir()
    for i in range(3):
        (src / f"{i}.bmp").write_bytes((ssd_dir / "cat.bmp").read_bytes())
    summary = run(RunSettings(model=ssd_dir / "ssd_mobilenet_v1_coco_quant.tflite", source=str(src),
                              jsonl=str(tmp_path / "out.jsonl")))
    assert summary["frames"] == 3
    messages = []
    try:
        while True:
            messages.append(server.recv(4096).decode())
    except TimeoutError:
        pass
    finally:
        server.close()
    assert messages[0].startswith("READY=1")
    assert "WATCHDOG=1" in messages
    assert messages[-1] == "STOPPING=1"

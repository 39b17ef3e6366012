"""One model rollout to a simulated fleet: N `edge run --config` processes on the bundled
shapes model (edge/assets/default), each on a live MJPEG camera looping the shapes clip at
a low frame rate, one Mosquitto, one http.server serving the package. One retained
delivery on the group topic; prints the time until every device reports the new version
installed (grace period included) and the broker's message counts.

    python bench/fleet_rollout.py --devices 4 --fps 2 --grace 5

Not a test: needs mosquitto (tests/helpers/broker.py, $MOSQUITTO) and a source tree (it
reuses the test fleet helpers in tests/fleet/devices.py).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fleet.devices import (  # noqa: E402 - after the path setup
    FileServer,
    delivery,
    make_shapes_package,
    shapes_camera,
    start_device,
)
from tests.helpers.broker import Broker  # noqa: E402

GROUP = "lab"


class Counter:
    """A paho subscriber on '#' (every device message) and $SYS (the broker's own counts)."""

    def __init__(self, port: int) -> None:
        self.lock = threading.Lock()
        self.by_kind: collections.Counter[str] = collections.Counter()
        self.sys: dict[str, float] = {}
        self.states: dict[str, dict] = {}
        self.state_times: dict[str, list[tuple[float, str]]] = collections.defaultdict(list)
        self.counting = False
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-counter")
        self.c.on_connect = lambda c, *a: c.subscribe([("#", 0), ("$SYS/broker/messages/#", 0),
                                                       ("$SYS/broker/publish/messages/#", 0)])
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def _on_message(self, client, userdata, msg) -> None:
        with self.lock:
            if msg.topic.startswith("$SYS/"):
                try:
                    self.sys[msg.topic] = float(msg.payload)
                except ValueError:
                    pass
                return
            parts = msg.topic.split("/")
            if msg.topic.endswith("/model/state"):
                st = json.loads(msg.payload)
                self.states[parts[1]] = st
                self.state_times[parts[1]].append((time.monotonic(), st["status"]))
            if self.counting:
                kind = "/".join(parts[2:]) if parts[1] != "group" else "group/" + "/".join(parts[3:])
                self.by_kind[kind] += 1

    def snapshot_sys(self) -> dict[str, float]:
        with self.lock:
            return dict(self.sys)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--devices", type=int, default=4, help="simulated devices (processes)")
    ap.add_argument("--fps", type=float, default=2.0, help="camera frame rate per device")
    ap.add_argument("--grace", type=float, default=5.0, help="fleet.grace_s of each device")
    ap.add_argument("--timeout", type=float, default=300.0)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="fleet-bench-"))
    broker = Broker(tmp, extra="sys_interval 1\n").start()
    camera = shapes_camera(fps=args.fps)
    www = tmp / "www"
    www.mkdir()
    server = FileServer(www)
    package = make_shapes_package(tmp, "2.0.0", www)
    counter = Counter(broker.port)
    names = [f"box{i:02d}" for i in range(args.devices)]
    print(f"N = {args.devices} devices ({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}), "
          f"camera {args.fps:g} FPS each, grace_s {args.grace:g}, package "
          f"{package.stat().st_size / 1e6:.2f} MB; work dir {tmp}", flush=True)
    devices = [start_device(tmp, n, broker.port, camera.url, groups=(GROUP,), grace_s=args.grace)
               for n in names]
    try:
        deadline = time.monotonic() + args.timeout
        while not all(counter.states.get(n, {}).get("status") == "idle" and len(d.frames()) > 3
                      for n, d in zip(names, devices, strict=True)):
            if time.monotonic() > deadline or any(d.proc.poll() is not None for d in devices):
                raise SystemExit("devices did not come up:\n" + "\n".join(d.tail()[-800:] for d in devices))
            time.sleep(0.2)
        time.sleep(2.5)  # two $SYS intervals: the "before" counts are current
        sys_before = counter.snapshot_sys()
        with counter.lock:
            counter.counting = True
        t0 = time.monotonic()
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-pub")
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        pub.publish(f"edge/group/{GROUP}/model/set", delivery(server, package, "2.0.0"), qos=1,
                    retain=True).wait_for_publish(5)
        done: dict[str, float] = {}
        while len(done) < len(names):
            for n in names:
                st = counter.states.get(n, {})
                if n not in done and st.get("status") in ("installed", "refused", "rolled_back",
                                                          "failed") and st.get("target") == "2.0.0":
                    done[n] = time.monotonic() - t0
                    if st["status"] != "installed":
                        print(f"  {n}: {st['status']}: {st['reason']}")
            if time.monotonic() > deadline:
                raise SystemExit(f"timeout: {len(done)}/{len(names)} done")
            time.sleep(0.05)
        t_all = time.monotonic() - t0
        with counter.lock:
            counter.counting = False
        time.sleep(2.5)
        sys_after = counter.snapshot_sys()
        pub.publish(f"edge/group/{GROUP}/model/set", b"", qos=1, retain=True).wait_for_publish(5)
        pub.disconnect()
        pub.loop_stop()

        installed = sum(counter.states[n]["status"] == "installed" for n in names)
        print(f"installed on {installed}/{len(names)} devices; fleet-wide install "
              f"{t_all:.1f} s after the publish (grace_s {args.grace:g} included)")
        firsts = {n: next(t for t, s in counter.state_times[n] if s == "downloading") - t0
                  for n in names}
        per = sorted(done.values())
        print(f"per device: first 'downloading' after {min(firsts.values()):.2f}-"
              f"{max(firsts.values()):.2f} s; 'installed' after {per[0]:.1f} (first) / "
              f"{per[len(per) // 2]:.1f} (median) / {per[-1]:.1f} s (last); install minus grace "
              f"{per[0] - args.grace:.1f}-{per[-1] - args.grace:.1f} s")
        print(f"messages seen on '#' during the rollout ({t_all:.1f} s): "
              f"{sum(counter.by_kind.values())}: {dict(counter.by_kind.most_common())}")
        for key in ("$SYS/broker/messages/received", "$SYS/broker/messages/sent",
                    "$SYS/broker/publish/messages/received", "$SYS/broker/publish/messages/sent"):
            if key in sys_before and key in sys_after:
                print(f"{key}: +{sys_after[key] - sys_before[key]:.0f} "
                      f"(includes stats, events and $SYS itself)")
    finally:
        for d in devices:
            if d.proc.poll() is None:
                d.proc.terminate()
        for d in devices:
            try:
                d.proc.wait(30)
            except Exception:  # noqa: BLE001 - the bench ends anyway; do not leave children
                d.proc.kill()
        counter.c.disconnect()
        counter.c.loop_stop()
        server.stop()
        camera.stop()
        broker.stop()


if __name__ == "__main__":
    main()

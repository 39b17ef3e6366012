"""The run supervisor rolls back a model that installs but then crashes or stalls the
pipeline (within the grace period) or runs it at a fraction of its FPS (at the end of it),
and says so on the state topic; it also follows `edge model install` on a running box, and
a box whose current version no longer loads starts on the previous one (#15).

Real parts: Mosquitto, a paho subscriber, http.server serving real packages of the bundled
shapes model, a live MJPEG camera and an `edge run --config` child process. The one fake:
the post-swap failure is injected into the pipeline's detector (tests/fleet/devices.py
FAULTS) for packages whose version names "crash", "stall" or "slow", because a real model that
passes the install gates and only then fails cannot be produced on demand."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from edge.cli import cli
from edge.fleet.store import ModelStore
from tests.fleet import devices
from tests.fleet.devices import (
    delivery,
    last_state,
    make_shapes_package,
    publish,
    start_device,
    states,
)
from tests.helpers.net import wait_for

fleet_parts = devices.fleet_parts  # the fixture (broker, camera, file server, subscriber)

GRACE_S = 6.0
DONE = ("installed", "refused", "rolled_back", "failed")


@pytest.mark.slow
def test_crash_stall_or_fps_collapse_after_the_swap_is_rolled_back(tmp_path, fleet_parts):
    broker, camera, server, www, sub, devices = fleet_parts
    d = start_device(tmp_path, "box1", broker.port, camera.url, grace_s=GRACE_S, faults=True)
    devices.append(d)
    store = ModelStore(d.store)
    assert wait_for(lambda: last_state(sub, "box1").get("status") == "idle"
                    and len(d.frames()) > 10, 60), d.tail()

    def deliver(version: str) -> dict:
        package = make_shapes_package(tmp_path, version, www)
        n = len(states(sub, "box1"))
        publish(broker.port, "edge/box1/model/set", delivery(server, package, version))
        assert wait_for(lambda: len(states(sub, "box1")) > n
                        and last_state(sub, "box1").get("status") in DONE, 60), d.tail()
        return last_state(sub, "box1")

    def swap_to_rollback_s(version: str) -> float:
        """Seconds from the store's activate of ``version`` to its rollback (history)."""
        hist = store.history()
        t_on = next(r["time"] for r in hist if r["event"] == "activate" and r["version"] == version)
        t_off = next(r["time"] for r in hist if r["event"] == "rollback"
                     and r.get("replaced") == version)
        return t_off - t_on

    def frames_flow() -> None:
        n = len(d.frames())
        assert wait_for(lambda: len(d.frames()) > n + 10, 20), d.tail()

    # a first install that stalls: back to the config's model (there is no previous version)
    st = deliver("2.0.0-stall")
    assert st["status"] == "rolled_back" and st["reason"].startswith("stalled: no frame"), st
    assert st["version"] is None and st["previous"] == "2.0.0-stall"
    assert store.current() is None
    assert swap_to_rollback_s("2.0.0-stall") < GRACE_S
    frames_flow()

    # a good version, then one that crashes: back to the good one
    st = deliver("1.0.0")
    assert st["status"] == "installed" and st["version"] == "1.0.0", st
    st = deliver("3.0.0-crash")
    assert st["status"] == "rolled_back", st
    assert "pipeline crashed" in st["reason"] and "injected detector failure" in st["reason"]
    assert st["version"] == "1.0.0" and st["target"] == "3.0.0-crash"
    assert store.current() == "1.0.0"
    assert swap_to_rollback_s("3.0.0-crash") < GRACE_S
    frames_flow()
    assert "running model 1.0.0" in d.log.read_text().rsplit("rolling back 3.0.0-crash", 1)[1]

    # one that runs, but at a fraction of the FPS (min_fps_ratio 0.2 of the camera's 10)
    st = deliver("3.1.0-slow")
    assert st["status"] == "rolled_back" and st["reason"].startswith("FPS collapsed"), st
    assert st["version"] == "1.0.0" and store.current() == "1.0.0" and st["fps"] < 2.0
    # (the FPS verdict falls at the end of the grace period, so no "< GRACE_S" here)

    # the rolled-back package delivered again (a retained message after a reconnect): not
    # retried
    n_swaps = d.log.read_text().count("fleet: swapping")
    st = deliver("3.0.0-crash")
    assert st["status"] == "rolled_back" and store.current() == "1.0.0"
    assert d.log.read_text().count("fleet: swapping") == n_swaps

    # `edge model install` on the box while it runs: the supervisor follows the store's
    # swap under the same grace watch and reports it on the state topic
    package = make_shapes_package(tmp_path, "4.0.0", www)
    n = len(states(sub, "box1"))
    res = CliRunner().invoke(cli, ["model", "install", str(package), "--config",
                                   str(d.dir / "box1.yaml")])
    assert res.exit_code == 0, res.output
    assert wait_for(lambda: len(states(sub, "box1")) > n
                    and last_state(sub, "box1").get("status") in DONE, 30), d.tail()
    st = last_state(sub, "box1")
    assert st["status"] == "installed" and st["version"] == "4.0.0" and st["previous"] == "1.0.0"
    assert "running model 4.0.0" in d.log.read_text()
    frames_flow()
    assert d.stop() == 0, d.tail()

    # the current version no longer loads when the box starts (a damaged file): it starts
    # on the previous one and says so
    (d.store / "versions" / "4.0.0" / "shapes_int8.tflite").write_bytes(b"\0" * 64)
    n = len(states(sub, "box1"))
    d = start_device(tmp_path, "box1", broker.port, camera.url, grace_s=GRACE_S, faults=True)
    devices.append(d)
    assert wait_for(lambda: len(states(sub, "box1")) > n
                    and last_state(sub, "box1").get("status") == "rolled_back", 60), d.tail()
    st = last_state(sub, "box1")
    assert st["version"] == "1.0.0" and st["previous"] == "4.0.0", st
    assert st["reason"].startswith("4.0.0 does not start:"), st
    assert store.current() == "1.0.0"
    frames_flow()
    assert d.stop() == 0, d.tail()

"""Model delivery over MQTT + HTTP to a fleet of real `edge run` processes (#15).

Real parts: Mosquitto, a paho subscriber, Python's http.server serving packages made by
`make_package` from the bundled shapes model, a live MJPEG camera looping the shapes clip,
and `edge run --config` child processes (tests/fleet/devices.py)."""

from __future__ import annotations

import json
import time

import pytest

from edge.defaults import SHAPES_MODEL
from edge.fleet.store import ModelStore
from edge.fleet.topics import FleetTopics, ModelState, discovery_messages, parse_delivery
from tests.alerts.conftest import Subscriber
from tests.fleet import devices
from tests.fleet.conftest import repack, weaken
from tests.fleet.devices import (
    delivery,
    last_state,
    make_shapes_package,
    publish,
    start_device,
    states,
    still_camera,
)
from tests.helpers.net import wait_for

fleet_parts = devices.fleet_parts  # the fixture (broker, camera, file server, subscriber)

GROUP_TOPIC = "edge/group/lab/model/set"


@pytest.mark.slow
def test_group_delivery_installs_on_every_device_without_losing_an_event(tmp_path, fleet_parts,
                                                                        request):
    broker, camera, server, www, sub, devices = fleet_parts
    package = make_shapes_package(tmp_path, "2.0.0", www)
    names = ("box1", "box2")
    # box1 on the looping clip (events come and go), box2 on a camera that always shows a
    # circle (one event, open across the swap)
    still = still_camera()
    request.addfinalizer(still.stop)
    devices += [start_device(tmp_path, "box1", broker.port, camera.url, home_assistant=True),
                start_device(tmp_path, "box2", broker.port, still.url)]
    for d in devices:
        # connected (its first state, on the config's model) and detecting
        assert wait_for(lambda d=d: last_state(sub, d.name).get("status") == "idle"
                        and len(d.frames()) > 20, 60), d.tail()
        assert last_state(sub, d.name)["version"] is None
    assert wait_for(lambda: all(any(e["phase"] == "start" for e in d.events()) for d in devices),
                    30), "no event before the swap"

    publish(broker.port, GROUP_TOPIC, delivery(server, package, "2.0.0"), retain=True)
    for d in devices:
        assert wait_for(lambda d=d: last_state(sub, d.name).get("status") in
                        ("installed", "refused", "rolled_back", "failed"), 60), d.tail()
        st = last_state(sub, d.name)
        assert st["status"] == "installed", st
        assert st["version"] == "2.0.0" and st["target"] == "2.0.0" and st["previous"] is None
        assert abs(st["map_delta"]) <= 0.02 and st["fps"] > 0  # same model: no accuracy change
        seen = [s["status"] for s in states(sub, d.name)]
        assert seen[-3:] == ["downloading", "installing", "installed"], seen
        assert ModelStore(d.store).current() == "2.0.0"
    t_installed = time.time()
    # detection continues on the new model
    for d in devices:
        assert wait_for(lambda d=d: sum(f["time"] > t_installed for f in d.frames()) > 10, 30), \
            d.tail()
        assert "running model 2.0.0" in d.log.read_text()

    # the retained group message comes back (here: a second publish); acknowledged, not
    # reinstalled
    n_installs = [d.log.read_text().count("fleet: swapping") for d in devices]
    publish(broker.port, GROUP_TOPIC, delivery(server, package, "2.0.0"), retain=True)
    for d in devices:
        assert wait_for(lambda d=d: last_state(sub, d.name).get("reason") == "already running", 20)
        assert last_state(sub, d.name)["status"] == "installed"
    assert [d.log.read_text().count("fleet: swapping") for d in devices] == n_installs

    # events through the swap: let more events happen on the new model, then stop
    assert wait_for(lambda: any(e["phase"] == "start" and e["time"] > t_installed
                                for e in devices[0].events()), 30)
    for d in devices:
        assert d.stop() == 0, d.tail()

    for d in devices:
        logged = d.events()
        assert wait_for(lambda d=d, n=len(logged): len(sub.on(f"edge/{d.name}/events")) >= n, 10)
        sent = [m.json() for m in sub.on(f"edge/{d.name}/events")]
        # every event the alert manager made reached the broker, in order, once
        assert [(e["id"], e["seq"]) for e in sent] == [(e["id"], e["seq"]) for e in logged]
        starts = {e["id"] for e in sent if e["phase"] == "start"}
        ends = {e["id"] for e in sent if e["phase"] == "end"}
        assert starts and starts == ends, (starts, ends)
        assert any(e["time"] < t_installed for e in sent) and any(e["time"] > t_installed
                                                                  for e in sent)
    # box2: the alert manager outlived the swap: its one event started on the old model,
    # went on through the swap and ended at shutdown, once
    box2 = [m.json() for m in sub.on("edge/box2/events")]
    assert len({e["id"] for e in box2}) == 1, [(e["id"], e["phase"]) for e in box2]
    assert box2[0]["phase"] == "start" and box2[0]["time"] < t_installed
    assert box2[-1]["phase"] == "end" and box2[-1]["end_reason"] == "shutdown"
    assert box2[-1]["time"] > t_installed

    # the state is retained: a newcomer reads it
    late = Subscriber(broker.port, ["edge/+/model/state"], client_id="late")
    try:
        assert late.wait_for(lambda s: len(s.messages) == 2, 10)
        assert all(m.retain and m.json()["version"] == "2.0.0" for m in late.messages)
    finally:
        late.close()
    # Home Assistant: an update entity reading installed/latest version off the state topic
    (cfg,) = [m.json() for m in sub.on("homeassistant/update/edge_box1/model/config")]
    assert cfg["state_topic"] == cfg["latest_version_topic"] == "edge/box1/model/state"
    assert "value_json.version" in cfg["value_template"]
    assert "value_json.target" in cfg["latest_version_template"]
    assert sub.on("homeassistant/sensor/edge_box1/model_status/config")
    assert not sub.on("homeassistant/update/edge_box2/model/config")  # box2: no discovery
    # health states keep coming from the supervised pipelines (edge.health.attach per swap)
    assert all(sub.on(f"edge/{n}/health") for n in names)
    publish(broker.port, GROUP_TOPIC, b"", retain=True)  # clear the retained delivery


@pytest.mark.slow
def test_bad_deliveries_are_refused_and_the_running_model_is_untouched(tmp_path, fleet_parts):
    broker, camera, server, www, sub, devices = fleet_parts
    good = make_shapes_package(tmp_path, "2.0.0", www)
    # a real package whose labels the device's alert rule (square/circle/triangle) lacks
    relabelled = make_shapes_package(tmp_path, "3.0.0", www, labels=["square", "circle", "plum"])
    d = start_device(tmp_path, "box1", broker.port, camera.url)
    devices.append(d)
    assert wait_for(lambda: last_state(sub, "box1").get("status") == "idle"
                    and len(d.frames()) > 10, 60), d.tail()
    topic = "edge/box1/model/set"

    def outcome(payload: bytes, n_before: int) -> dict:
        publish(broker.port, topic, payload)
        assert wait_for(lambda: len(states(sub, "box1")) > n_before and last_state(sub, "box1")
                        .get("status") in ("installed", "refused", "rolled_back", "failed"), 60), \
            d.tail()
        st = last_state(sub, "box1")
        # the running model is untouched and keeps detecting
        assert st["version"] is None and ModelStore(d.store).current() is None
        n = len(d.frames())
        assert wait_for(lambda: len(d.frames()) > n + 5, 20), d.tail()
        return st

    # corrupt download: the bytes served are not the ones the delivery names
    st = outcome(delivery(server, good, "2.0.0", digest="0" * 64), len(states(sub, "box1")))
    assert st["status"] == "refused" and "sha256 mismatch" in st["reason"], st
    # a payload that is not a delivery: one line naming the field
    st = outcome(json.dumps({"url": server.url(good), "version": "2.0.0"}).encode(),
                 len(states(sub, "box1")))
    assert st["status"] == "failed" and st["reason"].startswith("delivery: sha256:"), st
    # the package is not the version the delivery names
    st = outcome(delivery(server, good, "9.9.9"), len(states(sub, "box1")))
    assert st["status"] == "refused" and st["reason"].startswith("version mismatch"), st
    # a URL that does not answer with the package
    st = outcome(json.dumps({"url": f"http://127.0.0.1:{server.port}/nope.edgepkg",
                             "sha256": "a" * 64, "version": "2.0.0"}).encode(),
                 len(states(sub, "box1")))
    assert st["status"] == "failed" and "404" in st["reason"], st
    # refused by the installer's gates: the rule's labels are not in the model
    st = outcome(delivery(server, relabelled, "3.0.0"), len(states(sub, "box1")))
    assert st["status"] == "refused" and st["reason"].startswith("rules:"), st
    assert st["target"] == "3.0.0"
    # a model that cannot load, and a weaker model under the good package's figures (the
    # package says mAP@0.5 ~1.0; this box measures ~0.7): repacked as tests/fleet/conftest.py
    # does for the installer's own tests
    def broken_model(folder, manifest):
        manifest["version"] = "5.0.0"
        (folder / manifest["model"]).write_bytes(b"TFL3" + b"\0" * 60)

    def weaker_model(folder, manifest):
        manifest["version"] = "6.0.0"
        weaken(SHAPES_MODEL, folder / manifest["model"])

    for version, edit, gate in (("5.0.0", broken_model, "load:"),
                                ("6.0.0", weaker_model, "accuracy:")):
        package = repack(good, www / f"shapes-{version}.edgepkg", edit)
        st = outcome(delivery(server, package, version), len(states(sub, "box1")))
        assert st["status"] == "refused" and st["reason"].startswith(gate), st
    assert st["map_delta"] < -0.02  # the accuracy gate's figure reaches the state
    # the same refused package again: answered from memory, not reinstalled
    n_refusals = d.log.read_text().count("refused at the rules gate")
    st = outcome(delivery(server, relabelled, "3.0.0"), len(states(sub, "box1")))
    assert st["status"] == "refused" and st["reason"].startswith("rules:")
    assert d.log.read_text().count("refused at the rules gate") == n_refusals
    # after all that, the good package (whose sha256 a corrupt download was refused
    # under, and which came once with the wrong version) installs
    n = len(states(sub, "box1"))
    publish(broker.port, topic, delivery(server, good, "2.0.0"))
    assert wait_for(lambda: len(states(sub, "box1")) > n and last_state(sub, "box1")
                    .get("status") in ("installed", "refused", "rolled_back", "failed"), 60)
    assert last_state(sub, "box1")["status"] == "installed", last_state(sub, "box1")
    assert ModelStore(d.store).current() == "2.0.0"
    assert d.stop() == 0, d.tail()


GOOD = {"url": "https://files.example/shapes-2.0.0.edgepkg", "sha256": "ab" * 32,
        "version": "2.0.0"}


@pytest.mark.parametrize("payload, message", [
    (b"not json", "delivery: expected JSON {url, sha256, version}"),
    (b"[1, 2]", "delivery: expected a JSON object {url, sha256, version}, got list"),
    (json.dumps({**GOOD, "url": "ftp://x/y.edgepkg"}).encode(),
     "delivery: url: Value error, expected an http:// or https:// URL, got 'ftp://x/y.edgepkg'"),
    (json.dumps({**GOOD, "sha256": "abc"}).encode(), "delivery: sha256: String should match"),
    (json.dumps({**GOOD, "version": "2.0.0/../x"}).encode(), "delivery: version: String should match"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "url"}).encode(), "delivery: url: Field required"),
    (json.dumps({**GOOD, "force": True}).encode(), "delivery: force: Extra inputs are not permitted"),
])
def test_a_bad_payload_is_one_line_naming_the_field(payload, message):
    with pytest.raises(ValueError) as e:
        parse_delivery(payload)
    assert str(e.value).startswith(message) and "\n" not in str(e.value)
    assert parse_delivery(json.dumps({**GOOD, "sha256": "AB" * 32}).encode()).sha256 == "ab" * 32


def test_home_assistant_templates_render_the_state():
    """The update entity's templates, rendered with Jinja2 (what Home Assistant uses) on
    the state JSON the box publishes."""
    jinja2 = pytest.importorskip("jinja2")
    (_, update), (_, status) = discovery_messages(FleetTopics("edge", "box1"), "homeassistant")
    update, status = json.loads(update), json.loads(status)

    def render(template: str, state: ModelState) -> str:
        return jinja2.Template(template).render(value_json=json.loads(state.to_json()))

    rolled = ModelState(version="1.0.0", target="2.0.0", status="rolled_back", reason="stalled")
    assert render(update["value_template"], rolled) == "1.0.0"
    assert render(update["latest_version_template"], rolled) == "2.0.0"  # not up to date
    assert render(status["value_template"], rolled) == "rolled_back"
    fresh = ModelState(version=None)
    assert render(update["value_template"], fresh) == render(
        update["latest_version_template"], fresh) == "config"


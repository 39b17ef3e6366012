"""The MQTT sink's health topic: retained, queued in order with the events, and sent again
after a reconnect so a broker restarted without persistence (which forgot every retained
message) still has the box's health. Real Mosquitto, real paho subscribers."""

from __future__ import annotations

import json

from edge.alerts.config import MqttConfig
from edge.alerts.sinks.mqtt import MqttSink
from tests.alerts.conftest import Subscriber
from tests.health.conftest import DEVICE, HEALTH_TOPIC
from tests.helpers.broker import Broker
from tests.helpers.net import wait_for


def test_health_is_retained_and_resent_after_a_broker_restart(tmp_path):
    broker = Broker(tmp_path).start()
    cfg = MqttConfig(host="127.0.0.1", port=broker.port, queue_path=tmp_path / "q.db",
                     reconnect_min_s=0.2, reconnect_max_s=0.5)
    sink = MqttSink(cfg, DEVICE)
    try:
        assert wait_for(lambda: sink.connected, 10)
        sink.publish_health(json.dumps({"ok": True, "n": 1}).encode())
        sink.publish_health(json.dumps({"ok": False, "n": 2}).encode())
        assert sink.wait_delivered(10)
        first = Subscriber(broker.port, [HEALTH_TOPIC], client_id="a")
        assert first.wait_for(lambda s: s.on(HEALTH_TOPIC), 5)
        (msg,) = first.on(HEALTH_TOPIC)
        assert msg.retain and msg.json() == {"ok": False, "n": 2}  # the newest, retained
        first.close()
        broker.stop()  # no persistence: the retained message is gone with it
        assert wait_for(lambda: not sink.connected, 10)
        broker = Broker(tmp_path, port=broker.port).start()
        assert wait_for(lambda: sink.connected and sink.counts["connects"] == 2, 15)
        assert sink.wait_delivered(10)
        late = Subscriber(broker.port, [HEALTH_TOPIC], client_id="b")
        assert late.wait_for(lambda s: s.on(HEALTH_TOPIC), 5)
        (msg,) = late.on(HEALTH_TOPIC)
        assert msg.retain and msg.json() == {"ok": False, "n": 2}
        late.close()
    finally:
        sink.close()
        broker.stop()

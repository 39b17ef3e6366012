"""The broker goes away while events keep coming: the MQTT on-disk queue fills past
health.queue_full_ratio and queue_full goes on; the broker comes back, the queue drains and
queue_full clears. Both transitions reach a real subscriber, in order, through the queue.

Real parts: an MJPEG camera where a cat comes and goes every second, the embedded COCO
model, a rule that sends every event to MQTT, Mosquitto stopped and restarted (with
persistence, so the subscriber's session outlives the restart and misses nothing).
"""

from __future__ import annotations

import pytest

from edge.app import RunSettings, build_pipeline
from edge.health import alert_manager, attach
from tests.health.conftest import HEALTH_TOPIC, Subscriber, health, make_config, run_in_thread
from tests.helpers.broker import Broker
from tests.helpers.net import wait_for


@pytest.mark.slow
def test_queue_fills_while_broker_is_down_and_drains_after(tmp_path, cat_camera):
    from edge.alerts import build_alerts

    extra = f"persistence true\npersistence_location {tmp_path}/\n"
    broker = Broker(tmp_path, extra=extra).start()
    sub = Subscriber(broker.port, [HEALTH_TOPIC], client_id="ops", clean_session=False)
    cfg = make_config(
        tmp_path, cat_camera.url, broker.port,
        mqtt={"queue_max": 40},
        health={"queue_full_ratio": 0.25},  # more than 10 queued messages: queue_full
        rules=[{"name": "cat", "labels": ["cat"], "min_score": 0.5, "min_frames": 1,
                "end_after_frames": 1, "cooldown_s": 0, "outputs": ["mqtt"]}])
    settings = RunSettings.from_config(cfg)
    alerts = build_alerts(cfg.alerts, cfg.device)
    settings.extra_sinks.append(alerts)
    pipeline = build_pipeline(settings)
    h = attach(pipeline, cfg, alert_manager(settings.extra_sinks))
    assert not h.owns_mqtt  # health goes through the alerts' own MQTT sink
    t, result = run_in_thread(pipeline)
    try:
        assert sub.wait_for(lambda s: health(s) and health(s)[-1]["ok"], 20), health(sub)
        assert wait_for(lambda: alerts.counts["start"] >= 1, 20)  # cats are being seen
        broker.stop()  # the broker goes away; events now only go to the on-disk queue
        assert wait_for(lambda: h.monitor.states.is_on("queue_full"), 30), h.mqtt.stats()
        queued = len(h.mqtt.queue)
        assert queued > 10
        broker = Broker(tmp_path, port=broker.port, extra=extra).start()  # ...and is back

        def cleared_after_raised(s):
            states = [m["states"]["queue_full"]["on"] for m in health(s)]
            return True in states and states[-1] is False and states.index(True) < len(states) - 1

        assert sub.wait_for(cleared_after_raised, 30), health(sub)
    finally:
        pipeline.stop()
        t.join(20)
        sub.close()
        broker.stop()
    assert "error" not in result, result
    raised = next(m for m in health(sub) if m["states"]["queue_full"]["on"])
    assert raised["states"]["queue_full"]["detail"].startswith("MQTT queue ")
    assert "(> 25%)" in raised["states"]["queue_full"]["detail"]
    assert alerts.counts["start"] >= 2  # events went on through the outage

"""Bad alert config -> an error that names the field (and, through the YAML loader, the line)."""

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from edge.alerts.config import AlertsConfig
from edge.config import load_config
from edge.yamlconf import ConfigError
from tests.alerts.conftest import REPO

GOOD = {
    "device": "door-cam",
    "model": "model.tflite",
    "mqtt": {"host": "127.0.0.1", "port": 1883, "qos": 1, "topic_prefix": "edge",
             "queue_path": "queue.db", "queue_max": 10000},
    "rules": [{"name": "person-at-door", "labels": ["person"], "min_score": 0.6,
               "zone": [[0.1, 0.5], [0.9, 0.5], [0.9, 1.0], [0.1, 1.0]], "min_frames": 3,
               "end_after_frames": 15, "cooldown_s": 30,
               "outputs": ["mqtt", "gpio_buzzer", "snapshot"]}],
    "gpio": {"gpio_buzzer": {"pin": 17, "active_high": True, "mode": "pulse", "seconds": 2}},
    "snapshots": {"dir": "snaps", "keep": 500, "crop": True},
}


def load(tmp_path: Path, data: dict):
    p = tmp_path / "device.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_config(p)


def broken(**changes) -> dict:
    import copy

    d = copy.deepcopy(GOOD)
    for path, value in changes.items():
        node = d
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[int(k)] if k.isdigit() else node[k]
        node[keys[-1]] = value
    return d


def test_issue_example_loads_and_relative_paths_follow_the_file(tmp_path):
    cfg = load(tmp_path, GOOD)
    assert cfg.alerts.configured_sinks() == ["mqtt", "snapshot", "gpio_buzzer"]
    assert cfg.alerts.mqtt.queue_path == tmp_path / "queue.db"
    assert cfg.alerts.snapshots.dir == tmp_path / "snaps"
    assert cfg.alerts.rules[0].zone_anchor == "bottom_center"


@pytest.mark.parametrize("change, field, words", [
    ({"mqtt__hots": "x"}, "mqtt.hots", "unknown key"),
    ({"rules__0__min_frame": 3}, "rules.0.min_frame", "unknown key"),
    ({"gpio__gpio_buzzer__pin": 40}, "gpio.gpio_buzzer.pin", "BCM GPIO number 0-27"),
    ({"gpio__gpio_buzzer__pin": -1}, "gpio.gpio_buzzer.pin", "BCM GPIO number"),
    ({"rules__0__zone": [[0.1, 0.5], [0.9, 0.5]]}, "rules.0.zone", "at least 3 points"),
    ({"rules__0__zone": [[0, 0], [640, 0], [640, 480]]}, "rules.0.zone", "outside [0, 1]"),
    ({"rules__0__outputs": ["mqtt", "gpio_buzer"]}, "rules", "'gpio_buzer' is not a configured sink"),
    ({"mqtt__tls": {"ca_certs": "nope/ca.crt"}}, "mqtt.tls.ca_certs", "file not found"),
    ({"mqtt__qos": 3}, "mqtt.qos", ""),
    ({"mqtt__topic_prefix": "edge/#"}, "mqtt.topic_prefix", "wildcards"),
    ({"gpio__gpio_buzzer__mode": "hold"}, "gpio.gpio_buzzer", "pulse only"),
    ({"snapshots__crop": False, "snapshots__full": False}, "snapshots", "nothing would be saved"),
])
def test_bad_config_names_the_field(tmp_path, change, field, words):
    with pytest.raises(ConfigError) as e:
        load(tmp_path, broken(**change))
    msg = str(e.value)
    assert f": {field}: " in msg and words in msg, msg
    assert str(tmp_path / "device.yaml") + ":" in msg  # file:line


def test_tls_client_cert_needs_its_key(tmp_path):
    (tmp_path / "c.pem").write_text("x")
    with pytest.raises(ValidationError, match="certfile and tls.keyfile go together"):
        AlertsConfig.model_validate({"mqtt": {"host": "h", "tls": {"certfile": str(tmp_path / "c.pem")}}})


def test_shared_pins_and_reserved_names_rejected():
    with pytest.raises(ValidationError, match="GPIO 17 is used by both a and b"):
        AlertsConfig.model_validate({"gpio": {"a": {"pin": 17}, "b": {"pin": 17}}})
    with pytest.raises(ValidationError, match="reserved"):
        AlertsConfig.model_validate({"gpio": {"mqtt": {"pin": 17}}})
    with pytest.raises(ValidationError, match="duplicate rule name"):
        AlertsConfig.model_validate({"rules": [{"name": "a", "labels": ["x"]}] * 2})
    with pytest.raises(ValidationError, match="home_assistant discovery needs an mqtt section"):
        AlertsConfig.model_validate({"home_assistant": {}})


def test_firmware_example_validates():
    cfg = load_config(REPO / "firmware_configs" / "pi4-buzzer-mqtt.yaml")
    assert cfg.alerts.gpio["buzzer"].pin == 17 and cfg.alerts.mqtt.qos == 1
    assert set(cfg.alerts.rules[0].outputs) <= set(cfg.alerts.configured_sinks())

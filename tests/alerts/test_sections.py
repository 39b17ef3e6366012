"""The device config hands each component its own section; the YAML stays flat."""

from pathlib import Path

import pytest

from edge.alerts.config import AlertsConfig
from edge.alerts.sinks.kinds import FIXED_SINKS, SINK_KINDS
from edge.config import EdgeConfig, load_config
from edge.yamlconf import ConfigError

YAML = """\
device: yard
model: m.tflite
mqtt:
  host: 127.0.0.1
  queue_path: q.db
rules:
  - name: a
    labels: [person]
"""


def test_alert_sections_are_gathered_into_their_own_section(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text(YAML)
    cfg = load_config(p)
    assert not isinstance(cfg, AlertsConfig)  # build_alerts cannot reach model, source...
    assert isinstance(cfg.alerts, AlertsConfig)
    assert cfg.alerts.mqtt.queue_path == tmp_path / "q.db"
    assert cfg.alerts.configured_sinks() == ["mqtt"]


def test_alert_errors_point_at_the_line_the_user_wrote(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text(YAML.replace("host:", "hots:"))
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert f"{p}:4: mqtt.hots: unknown key" in str(e.value), e.value


def test_unknown_and_nested_keys_are_rejected(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text(YAML + "colour: red\n")
    with pytest.raises(ConfigError, match=r":9: colour: unknown key"):
        load_config(p)
    with pytest.raises(ValueError, match="at the top level"):
        EdgeConfig.model_validate({"model": "m.tflite", "alerts": {}})


def test_sink_table_names_each_sink_once() -> None:
    sections = [k.section for k in SINK_KINDS]
    assert sections == list(dict.fromkeys(sections))
    assert set(sections) <= set(AlertsConfig.model_fields)
    assert FIXED_SINKS == {"mqtt": "mqtt", "event_log": "event_log", "snapshot": "snapshots"}

"""MQTT sink (paho-mqtt 2.x) that does not lose events when the network or broker fails.

Every message (events, snapshots, rule states) is first written to the on-disk queue
(``queue.py``), then sent by this sink's own thread, at most ``WINDOW`` unacknowledged at a
time, in queue order, and deleted only on PUBACK. paho's network thread (``loop_start``)
connects, reconnects with exponential backoff (``reconnect_min_s`` doubling to
``reconnect_max_s``) and re-sends its in-flight messages itself after a reconnect; new rows
wait until those are acknowledged, so order holds across outages. paho callbacks only post
to an inbox: taking a lock in a callback (which runs under paho's message mutex) while
another thread holds it and calls ``publish`` would deadlock.

Availability: ``<prefix>/<device>/availability`` retained ``online`` on every connect,
``offline`` on a clean close and as the last will (sent by the broker when the connection
dies without a DISCONNECT). Stats go out QoS 0, unqueued: a stale stats message is noise.
Health (``edge.health``): ``<prefix>/<device>/health`` retained JSON, queued like events
(so a state raised during an outage arrives, in order, after it) and queued again on every
reconnect (a broker restarted without persistence has forgotten it).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from edge.alerts.config import HomeAssistantConfig, MqttConfig
from edge.alerts.events import AlertEvent
from edge.alerts.homeassistant import Topics, discovery_messages, health_discovery_messages
from edge.alerts.open_events import default_state_dir
from edge.alerts.sinks.queue import MessageQueue

log = logging.getLogger(__name__)
WINDOW = 16
_LOG_EVERY_S = 30.0


def default_queue_path(device: str) -> Path:
    return default_state_dir() / f"{device}-mqtt.db"


def _paho():
    try:
        import paho.mqtt.client as mqtt
    except ImportError as e:
        raise RuntimeError("mqtt: the paho-mqtt package is missing; pip install 'paho-mqtt>=2'") from e
    return mqtt


def apply_credentials(client, cfg: MqttConfig) -> str | None:
    """Username/password (config, else $EDGE_MQTT_USERNAME/PASSWORD) and TLS on a paho
    client; returns the username used. RuntimeError names mqtt.tls when certificates fail."""
    username = cfg.username or os.environ.get("EDGE_MQTT_USERNAME")
    password = (cfg.password.get_secret_value() if cfg.password is not None
                else os.environ.get("EDGE_MQTT_PASSWORD"))
    if username:
        client.username_pw_set(username, password)
    if cfg.tls is not None:
        try:
            client.tls_set(ca_certs=_s(cfg.tls.ca_certs), certfile=_s(cfg.tls.certfile),
                           keyfile=_s(cfg.tls.keyfile))
        except (OSError, ValueError) as e:  # ssl.SSLError is an OSError
            raise RuntimeError(f"mqtt.tls: cannot load the certificates ({e})") from e
        client.tls_insecure_set(cfg.tls.insecure)
    return username


class MqttSink:
    def __init__(self, cfg: MqttConfig, device: str, rules: Sequence[str] = (),
                 home_assistant: HomeAssistantConfig | None = None) -> None:
        mqtt = _paho()
        self.cfg = cfg
        self.topics = Topics(cfg.topic_prefix, device)
        self.rules = list(rules)
        self.ha = home_assistant if home_assistant is not None and home_assistant.discovery else None
        self.queue_path = Path(cfg.queue_path or default_queue_path(device))
        self.queue = MessageQueue(self.queue_path, cfg.queue_max, int(cfg.queue_max_mb * 1024 * 1024))
        self.counts = {"delivered": 0, "dropped": 0, "connects": 0, "connect_failures": 0,
                       "disconnects": 0, "stats_sent": 0, "stats_skipped": 0}
        self.connected = False
        self.last_error: str | None = None
        self._last_log: dict[str, float] = {}
        self._inflight: dict[int, int] = {}  # paho mid -> queue row id (sender thread only)
        self._last_sent = 0
        self._drain_first = False
        self._active: dict[str, set[str]] = {r: set() for r in self.rules}
        self.health_states: list[str] = []  # set by enable_health: HA discovery for them
        self._health: bytes | None = None  # the last health payload, re-queued on reconnect
        self._inbox: queue.Queue = queue.Queue()
        # guards _inflight/_last_sent/_send; never taken by paho callbacks (see module doc)
        self._send_lock = threading.Lock()
        self._closed = False

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                             client_id=cfg.client_id or f"edge-{device}", clean_session=True,
                             protocol=mqtt.MQTTv311)
        # a bug in a callback must not kill paho's network thread
        client.suppress_exceptions = True
        client.max_inflight_messages_set(WINDOW)
        try:
            apply_credentials(client, cfg)
        except RuntimeError:
            self.queue.close()
            raise
        client.will_set(self.topics.availability, "offline", qos=1, retain=True)
        client.reconnect_delay_set(cfg.reconnect_min_s, cfg.reconnect_max_s)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self.client = client
        if self.ha is not None:
            for rule in self.rules:  # HA shows "unknown" until a state arrives
                self._enqueue(self.topics.rule_state(rule), b"OFF", retain=True)
        self._sender = threading.Thread(target=self._run, name="alert-mqtt-sender", daemon=True)
        self._sender.start()
        client.connect_async(cfg.host, cfg.port, cfg.keepalive_s)
        client.loop_start()

    # -- called by the sink worker ------------------------------------------------------
    def publish(self, event: AlertEvent) -> None:
        self._enqueue(self.topics.events, json.dumps(event.to_dict(), separators=(",", ":")).encode())
        if self.ha is not None and event.rule in self._active:
            active = self._active[event.rule]
            was = bool(active)
            (active.add if event.phase != "end" else active.discard)(event.id)
            if was != bool(active):
                self._enqueue(self.topics.rule_state(event.rule), b"ON" if active else b"OFF",
                              retain=True)
        if event.phase == "start" and self.cfg.publish_snapshots and event.image is not None:
            # after the event JSON: encoding the JPEG must not delay the alert itself
            jpeg = event.jpeg(crop=self.cfg.snapshot_crop)
            if jpeg is not None:
                self._enqueue(self.topics.snapshot(event.label), jpeg, retain=True)

    def publish_stats(self, stats: dict) -> None:
        payload = dict(stats, mqtt=self.stats())
        if not self.connected:
            self.counts["stats_skipped"] += 1
            return
        self.client.publish(self.topics.stats, json.dumps(payload, separators=(",", ":"),
                                                          default=str), qos=0)
        self.counts["stats_sent"] += 1

    def enable_health(self, states: Sequence[str]) -> None:
        """Announce the health states (HA discovery, now if connected and on every connect)."""
        self.health_states = list(states)
        self._inbox.put(("announce_health", None))

    def publish_health(self, payload: bytes) -> None:
        """Queue the health JSON, retained, on ``<prefix>/<device>/health``."""
        self._health = payload
        self._enqueue(self.topics.health, payload, retain=True)

    def _enqueue(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self._put(topic, payload, retain)
        # send from this (sink worker) thread: one thread hop less than waking the sender
        self._try_send()

    def _put(self, topic: str, payload: bytes, retain: bool) -> int:
        dropped = self.queue.put(topic, payload, self.cfg.qos, retain)
        if dropped:
            self.counts["dropped"] += dropped
            self._log_limited(
                "drop", logging.WARNING,
                "MQTT queue %s full (%d messages / %.1f MB bound): dropped the %d oldest "
                "(%d dropped in total); broker %s:%d %s", self.queue_path, self.queue.max_messages,
                self.queue.max_bytes / 1048576, dropped, self.counts["dropped"], self.cfg.host,
                self.cfg.port, "connected" if self.connected else
                f"unreachable ({self.last_error or 'connecting'})")
        return dropped

    def _try_send(self) -> None:
        with self._send_lock:
            try:
                self._send()
            except Exception as e:  # noqa: BLE001 - rows stay queued; the sender retries
                self._log_limited("send", logging.ERROR, "MQTT send failed: %s", e)

    # -- paho network thread: post and return ---------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self._inbox.put(("connect", reason_code))

    def _on_connect_fail(self, client, userdata) -> None:
        self._inbox.put(("connect_fail", None))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._inbox.put(("disconnect", reason_code))

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self._inbox.put(("ack", mid))

    # -- sender thread --------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            try:
                kind, arg = self._inbox.get(timeout=1.0)
            except queue.Empty:
                kind, arg = "wake", None
            while True:
                if kind == "stop":
                    return
                with self._send_lock:
                    self._handle(kind, arg)
                try:
                    kind, arg = self._inbox.get_nowait()
                except queue.Empty:
                    break
            self._try_send()

    def _handle(self, kind: str, arg) -> None:
        if kind == "ack":
            row = self._inflight.pop(arg, None)
            if row is not None:
                self.queue.delete(row)
                self.counts["delivered"] += 1
        elif kind == "connect":
            if arg.is_failure:
                self.connected = False
                self.counts["connect_failures"] += 1
                self.last_error = f"broker refused the connection: {arg}"
                hint = (" — check mqtt.username / mqtt.password (or $EDGE_MQTT_USERNAME / "
                        "$EDGE_MQTT_PASSWORD)" if arg.value in (4, 5, 134, 135) else "")
                self._log_limited("refused", logging.ERROR,
                                  "MQTT broker %s:%d refused the connection: %s%s; retrying with "
                                  "backoff, events are kept in %s", self.cfg.host, self.cfg.port,
                                  arg, hint, self.queue_path)
                return
            self.connected = True
            self.last_error = None
            self.counts["connects"] += 1
            log.info("MQTT connected to %s:%d (%d messages queued)", self.cfg.host,
                     self.cfg.port, len(self.queue))
            self.client.publish(self.topics.availability, "online", qos=1, retain=True)
            if self.ha is not None:
                for topic, payload in discovery_messages(self.topics, self.rules,
                                                         self.ha.discovery_prefix):
                    self.client.publish(topic, payload, qos=1, retain=True)
            self._announce_health()
            if self._health is not None and self.counts["connects"] > 1:
                # behind whatever is still queued, so the broker ends with the newest state
                self._put(self.topics.health, self._health, retain=True)
        elif kind == "announce_health":
            if self.connected:
                self._announce_health()
        elif kind == "connect_fail":
            self.counts["connect_failures"] += 1
            self.last_error = f"cannot reach {self.cfg.host}:{self.cfg.port}"
            self._log_limited("unreachable", logging.WARNING,
                              "MQTT broker %s:%d unreachable; retrying with backoff, %d "
                              "messages queued in %s", self.cfg.host, self.cfg.port,
                              len(self.queue), self.queue_path)
        elif kind == "disconnect":
            if self.connected:
                self.counts["disconnects"] += 1
                if not self._closed:
                    log.warning("MQTT disconnected from %s:%d (%s); reconnecting", self.cfg.host,
                                self.cfg.port, arg)
            self.connected = False
            # paho re-sends its unacknowledged messages first after reconnecting
            self._drain_first = bool(self._inflight)

    def _announce_health(self) -> None:
        if self.ha is None or not self.health_states:
            return
        for topic, payload in health_discovery_messages(self.topics, self.health_states,
                                                        self.ha.discovery_prefix):
            self.client.publish(topic, payload, qos=1, retain=True)

    def _send(self) -> None:
        if not self.connected:
            return
        if self._drain_first:
            if self._inflight:
                return
            self._drain_first = False
        room = WINDOW - len(self._inflight)
        if room <= 0:
            return
        for msg in self.queue.after(self._last_sent, room):
            info = self.client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain)
            self._last_sent = msg.id
            if msg.qos == 0:
                # no PUBACK at QoS 0: handing it to the socket is all the delivery there is
                self.queue.delete(msg.id)
                self.counts["delivered"] += 1
            else:
                self._inflight[info.mid] = msg.id

    def _log_limited(self, key: str, level: int, fmt: str, *args) -> None:
        now = time.monotonic()
        if now - self._last_log.get(key, -1e9) >= _LOG_EVERY_S:
            self._last_log[key] = now
            log.log(level, fmt, *args)

    # -- lifecycle ------------------------------------------------------------------------
    def stats(self) -> dict:
        return dict(self.counts, connected=self.connected, queued=len(self.queue),
                    queued_bytes=self.queue.bytes, inflight=len(self._inflight),
                    last_error=self.last_error)

    def wait_delivered(self, timeout: float) -> bool:
        """Block until the queue is empty (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        while len(self.queue) and time.monotonic() < deadline:
            self._inbox.put(("wake", None))
            time.sleep(0.02)
        return not len(self.queue)

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (up to ``timeout`` if connected), announce ``offline``,
        disconnect. Undelivered messages stay on disk for the next start."""
        if self.connected:
            self.wait_delivered(timeout)
        self._closed = True
        if self.connected:
            try:
                self.client.publish(self.topics.availability, "offline", qos=1,
                                    retain=True).wait_for_publish(1.0)
            except (RuntimeError, ValueError) as e:
                log.warning("MQTT: could not announce offline: %s", e)
        self.client.disconnect()
        self.client.loop_stop()
        self._inbox.put(("stop", None))
        self._sender.join(5.0)
        left = len(self.queue)
        if left:
            log.warning("MQTT: %d messages not yet delivered remain in %s; they are sent at "
                        "the next start", left, self.queue_path)
        self.queue.close()


def _s(p: Path | None) -> str | None:
    return None if p is None else str(p)

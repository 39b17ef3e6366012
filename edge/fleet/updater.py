"""Take model deliveries over MQTT, download them over HTTP(S), hand them to an installer
and report the outcome on ``<prefix>/<device>/model/state`` (retained).

The updater has its own paho client (``edge-<device>-updater``), so a slow download or a
long install never holds up the alert sink's connection. paho's callbacks only put the
message in an inbox; one worker thread handles deliveries in arrival order, so two
deliveries never install at the same time.

Retained group messages come back on every reconnect and after every restart: a delivery
of the version already running is acknowledged (``installed``, unchanged), and one whose
package was refused or rolled back before is answered with that outcome again, never
retried (a retained bad package must not cycle the box through installs). Those outcomes
are kept in ``<store>/updater.json`` so they survive a restart.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from edge.alerts.config import HomeAssistantConfig, MqttConfig
from edge.alerts.sinks.mqtt import _paho, apply_credentials
from edge.fleet.config import FleetConfig
from edge.fleet.topics import Delivery, FleetTopics, ModelState, discovery_messages, parse_delivery

log = logging.getLogger(__name__)
CHUNK = 1 << 16
# outcomes that say something about the package itself: the same bytes would fail again
FINAL = ("refused", "rolled_back")


@dataclass
class InstallOutcome:
    """What an installer (the run supervisor) returns for one downloaded package."""

    status: str  # "installed" | "refused" | "rolled_back" | "failed"
    reason: str = ""
    version: str | None = None  # the version running afterwards
    previous: str | None = None
    map_delta: float | None = None
    fps: float | None = None


Installer = Callable[[Path, Delivery], InstallOutcome]


def download(url: str, dest: Path, sha256: str, timeout_s: float) -> None:
    """``url`` into ``dest``; ValueError when its sha256 is not ``sha256``, OSError
    (urllib.error.URLError, TimeoutError) when it cannot be fetched within ``timeout_s``."""
    h = hashlib.sha256()
    deadline = time.monotonic() + timeout_s
    # urlopen's timeout bounds each socket read; the deadline bounds the whole transfer
    with urllib.request.urlopen(url, timeout=timeout_s) as r, open(dest, "wb") as f:  # noqa: S310 - http(s) checked by Delivery
        while chunk := r.read(CHUNK):
            h.update(chunk)
            f.write(chunk)
            if time.monotonic() > deadline:
                raise TimeoutError(f"download took longer than fleet.download_timeout_s "
                                   f"({timeout_s:g} s)")
    got = h.hexdigest()
    if got != sha256:
        raise ValueError(f"sha256 mismatch: the delivery says {sha256[:16]}..., the download "
                         f"is {got[:16]}... (corrupt or replaced package)")


def _key(d: Delivery) -> str:
    """A refused or rolled-back delivery is remembered by package bytes and version."""
    return f"{d.sha256} {d.version}"


def _version_mismatch(package: Path, version: str) -> str | None:
    """Why ``package`` is not the ``version`` the delivery names, or None. An unreadable
    package is left to the installer's integrity gate, which says why in full."""
    import tarfile

    from edge.fleet.package import read_manifest

    try:
        manifest, _ = read_manifest(package)
    except (OSError, ValueError, tarfile.TarError):
        return None
    if manifest.version != version:
        return (f"version mismatch: the delivery says {version}, the package is "
                f"{manifest.name} {manifest.version}")
    return None


class Updater:
    """mqtt: the device's broker settings (credentials, TLS, prefix). current(): the version
    running now. install(path, delivery): installs and swaps, blocking until the outcome.
    workdir: downloads and ``updater.json`` (the store's root)."""

    def __init__(self, mqtt_cfg: MqttConfig, device: str, fleet: FleetConfig,
                 current: Callable[[], str | None], install: Installer, workdir: Path,
                 home_assistant: HomeAssistantConfig | None = None) -> None:
        mqtt = _paho()
        self.cfg = mqtt_cfg
        self.fleet = fleet
        self.topics = FleetTopics(mqtt_cfg.topic_prefix, device)
        self.current = current
        self.install = install
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ha = home_assistant if home_assistant is not None and home_assistant.discovery else None
        self.subscriptions = ([self.topics.model_set] if fleet.updates else []) + \
            [self.topics.group_set(g) for g in fleet.groups]
        self._memory_path = self.workdir / "updater.json"
        self._outcomes: dict[str, dict] = {}  # "<sha256> <version>" -> {status, reason, version}
        self.state = ModelState(version=current())
        self._load_memory()
        self.state.version = current()
        if self.state.status in ("downloading", "installing"):
            self.state = replace(self.state, status="failed",
                                 reason="interrupted: the device restarted during the update")
        self._inbox: queue.Queue = queue.Queue()
        self._lock = threading.Lock()  # one publisher of the state at a time
        self.connected = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"edge-{device}-updater",
                             clean_session=True, protocol=mqtt.MQTTv311)
        client.suppress_exceptions = True  # a bug in a callback must not kill paho's thread
        apply_credentials(client, mqtt_cfg)
        client.reconnect_delay_set(mqtt_cfg.reconnect_min_s, mqtt_cfg.reconnect_max_s)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        self.client = client
        self._worker = threading.Thread(target=self._run, name="fleet-updater", daemon=True)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> Updater:
        self._worker.start()
        self.client.connect_async(self.cfg.host, self.cfg.port, self.cfg.keepalive_s)
        self.client.loop_start()
        return self

    def close(self) -> None:
        self._inbox.put(None)
        self._worker.join(10.0)
        self.client.disconnect()
        self.client.loop_stop()

    # -- paho network thread: post and return ---------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("fleet updater: broker %s:%d refused the connection: %s", self.cfg.host,
                      self.cfg.port, reason_code)
            return
        # subscribe on every connect: the session is clean, and the retained group delivery
        # comes back with the subscription
        if self.subscriptions:
            client.subscribe([(t, 1) for t in self.subscriptions])
        self._inbox.put(("connect", None, None))

    def _on_message(self, client, userdata, msg) -> None:
        self._inbox.put(("message", msg.topic, bytes(msg.payload)))

    # -- worker thread --------------------------------------------------------------------
    def _run(self) -> None:
        while (item := self._inbox.get()) is not None:
            kind, topic, payload = item
            try:
                if kind == "connect":
                    self._announce()
                else:
                    self._handle(topic, payload)
            except Exception as e:  # noqa: BLE001 - reported, and the next delivery still works
                log.exception("fleet updater: %s on %s failed", kind, topic)
                self._publish(replace(self.state, status="failed", reason=f"internal error: {e}"))

    def _announce(self) -> None:
        log.info("fleet updater connected to %s:%d; deliveries on %s", self.cfg.host,
                 self.cfg.port, ", ".join(self.subscriptions) or "(none)")
        self.connected.set()
        if self.ha is not None:
            for topic, payload in discovery_messages(self.topics, self.ha.discovery_prefix):
                self.client.publish(topic, payload, qos=1, retain=True)
        self._publish(replace(self.state, version=self.current()))

    def _handle(self, topic: str, payload: bytes) -> None:
        if not payload:
            return  # a cleared retained message: nothing was delivered
        try:
            d = parse_delivery(payload)
        except ValueError as e:
            log.error("fleet: %s on %s", e, topic)
            self._publish(replace(self.state, version=self.current(), status="failed",
                                  reason=str(e), target=None))
            return
        current = self.current()
        if d.version == current:
            log.info("fleet: %s delivers %s, which is already running", topic, d.version)
            self._publish(replace(self.state, version=current, target=d.version,
                                  status="installed", reason="already running"))
            return
        known = self._outcomes.get(_key(d))
        if known is not None and known["status"] in FINAL:
            log.warning("fleet: %s delivers %s again; it was %s before (%s): not retried",
                        topic, d.version, known["status"], known["reason"])
            self._publish(replace(self.state, version=current, target=d.version,
                                  status=known["status"], reason=known["reason"]))
            return
        log.info("fleet: %s delivers %s from %s", topic, d.version, d.url)
        self._publish(ModelState(version=current, target=d.version, status="downloading",
                                 previous=self.state.previous))
        dest = self.workdir / f".download-{d.version}-{d.sha256[:12]}.edgepkg"
        try:
            try:
                download(d.url, dest, d.sha256, self.fleet.download_timeout_s)
            except ValueError as e:
                # the bytes served were not the package named: maybe a partial upload, so
                # a later delivery of it is tried again (not remembered)
                self._finish(d, InstallOutcome("refused", str(e), version=current), remember=False)
                return
            except (OSError, urllib.error.URLError) as e:
                self._finish(d, InstallOutcome("failed", f"download of {d.url} failed: {e}",
                                               version=current))
                return
            mismatch = _version_mismatch(dest, d.version)
            if mismatch:
                self._finish(d, InstallOutcome("refused", mismatch, version=current))
                return
            self._publish(replace(self.state, status="installing"))
            self._finish(d, self.install(dest, d))
        finally:
            dest.unlink(missing_ok=True)

    def _finish(self, d: Delivery, out: InstallOutcome, remember: bool = True) -> None:
        log.log(logging.INFO if out.status == "installed" else logging.WARNING,
                "fleet: delivery of %s: %s%s", d.version, out.status,
                f" ({out.reason})" if out.reason else "")
        if remember and out.status in FINAL:
            self._outcomes[_key(d)] = {"status": out.status, "reason": out.reason,
                                        "version": d.version}
        self._publish(ModelState(version=out.version if out.version is not None else self.current(),
                                 target=d.version, status=out.status, reason=out.reason,
                                 map_delta=out.map_delta, fps=out.fps, previous=out.previous))

    def report(self, out: InstallOutcome, target: str | None) -> None:
        """Publish the outcome of a swap that came from elsewhere (``edge model install``
        on the box while it runs)."""
        self._publish(ModelState(version=out.version, target=target, status=out.status,
                                 reason=out.reason, map_delta=out.map_delta, fps=out.fps,
                                 previous=out.previous))

    def _publish(self, state: ModelState) -> None:
        with self._lock:
            state.ts = time.time()
            self.state = state
            self._save_memory()
            # QoS 1, retained: paho re-sends it after a reconnect; a state published while
            # disconnected is replaced by the one _announce publishes on the next connect
            self.client.publish(self.topics.model_state, state.to_json(), qos=1, retain=True)

    # -- memory across restarts -----------------------------------------------------------
    def _load_memory(self) -> None:
        if not self._memory_path.is_file():
            return
        try:
            data = json.loads(self._memory_path.read_text())
            self._outcomes = dict(data.get("outcomes", {}))
            st = data.get("state") or {}
            self.state = ModelState(**{k: st[k] for k in ModelState.__dataclass_fields__ if k in st})
        except (OSError, ValueError, TypeError) as e:
            # losing it means a retained bad package is tried once more, nothing worse
            log.warning("fleet: ignoring unreadable %s: %s", self._memory_path, e)

    def _save_memory(self) -> None:
        tmp = self._memory_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"state": json.loads(self.state.to_json()),
                                   "outcomes": self._outcomes}, indent=1))
        os.replace(tmp, self._memory_path)

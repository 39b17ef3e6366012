"""``edge run`` under a supervisor that can swap the model and take the swap back.

States and transitions (each logged)::

    running(v) --install accepted--> swapping --built--> grace(v') --grace_s passed--> running(v')
        |                               |                   |
        |                               '--cannot build-----+--crash / stall / FPS collapse
        '--install refused: stays running(v)                        --> rolled back: running(v)

The pipeline of the running model runs on its own thread; the supervisor's loop (the main
thread) takes install requests from the updater, one at a time, and once a second looks
at the store: a ``current`` changed by ``edge model install / activate / rollback`` on the
box is swapped to under the same grace watch. The install gates
(``edge.fleet.install``) run while the old model keeps detecting; only an accepted package
stops it (after its current frame) and starts the new one.

Sinks that must outlive a swap (the alert manager above all: its tracker holds open events
and its MQTT sink its queue) are given to every pipeline behind ``KeepOpen``, so a
pipeline's end does not close them; the supervisor closes them once, at its own end. Per
pipeline outputs (JSON lines, annotated video) are rebuilt with each pipeline.

The grace watch: no exception, a frame at least every ``grace_s / 2`` seconds, and at the
end FPS over the last ``grace_s / 2`` seconds >= ``min_fps_ratio`` x the FPS of the old
model over the last ``fps_window_s`` before the install began (before the gates loaded the
CPU). A source that ends during the grace period says nothing against the model: accepted.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from edge.app import RunSettings, build_pipeline
from edge.core.frame import FrameResult, ResultSink
from edge.fleet.store import ModelStore, store_for
from edge.fleet.topics import Delivery
from edge.fleet.updater import InstallOutcome
from edge.pipeline import close_each

if TYPE_CHECKING:
    from edge.config import EdgeConfig
    from edge.pipeline import Pipeline

log = logging.getLogger(__name__)


class FrameMeter:
    """A ResultSink that notes when each frame came through: FPS over a recent window and
    the time of the last frame (is anything flowing?)."""

    def __init__(self, maxlen: int = 4096) -> None:
        self.times: collections.deque[float] = collections.deque(maxlen=maxlen)
        self.t_start = time.monotonic()
        self.frames = 0

    def handle(self, result: FrameResult) -> None:
        self.times.append(time.monotonic())
        self.frames += 1

    def close(self) -> None:
        pass

    @property
    def last(self) -> float | None:
        return self.times[-1] if self.times else None

    def fps(self, window_s: float) -> float | None:
        """Frames per second over the last ``window_s`` (or since the start, if shorter);
        None before a second has passed."""
        now = time.monotonic()
        span = min(window_s, now - self.t_start)
        if span < 1.0:
            return None
        recent = [t for t in self.times if t >= now - span]
        if len(recent) < 2:
            return 0.0
        # intervals between the frames seen, not frames / window: at 1-2 FPS a window
        # edge falling between two frames would otherwise read as a drop
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)


class KeepOpen:
    """Forwards frames and stats to ``sink`` but not ``close``: the sink outlives the
    pipeline it is given to."""

    def __init__(self, sink: ResultSink) -> None:
        self.sink = sink
        self.detached = False

    def handle(self, result: FrameResult) -> None:
        # an abandoned (hung) pipeline that wakes up later must not feed the alert manager
        # alongside its successor: the manager is single-threaded
        if not self.detached:
            self.sink.handle(result)

    def publish_stats(self, stats: dict) -> None:
        publish = getattr(self.sink, "publish_stats", None)
        if publish is not None:
            publish(stats)

    def close(self) -> None:
        pass  # the supervisor closes it once, at its own end


class _Run:
    """One pipeline on one model version, on its own thread."""

    def __init__(self, pipeline: Pipeline, version: str | None, meter: FrameMeter,
                 shared: list[KeepOpen], health=None) -> None:
        self.pipeline, self.version, self.meter, self.shared = pipeline, version, meter, shared
        self.health = health  # edge.health.Health or None
        self.error: BaseException | None = None
        self.summary: dict | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._main, name=f"pipeline-{version or 'config'}",
                                       daemon=True)

    def _main(self) -> None:
        try:
            self.summary = self.pipeline.run()
        except BaseException as e:  # noqa: BLE001 - the supervisor decides: roll back or exit
            self.error = e
            log.error("pipeline on model %s failed: %s: %s", self.version or "(config)",
                      type(e).__name__, e)
        finally:
            self.done.set()

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Stop after the current frame; False when the thread is stuck (a hung invoke):
        it is abandoned (a daemon thread) and the caller goes on."""
        self.pipeline.stop()
        self.thread.join(timeout_s)
        if self.thread.is_alive():
            for k in self.shared:
                k.detached = True
            if self.health is not None:  # frees the metrics port for the next pipeline
                self.health.close()
            log.error("pipeline on model %s did not stop within %g s; abandoning its thread",
                      self.version or "(config)", timeout_s)
            return False
        return True


@dataclasses.dataclass
class _Request:
    package: Path
    delivery: Delivery | None
    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    outcome: InstallOutcome | None = None


class Supervisor:
    """cfg: the device config (its ``fleet`` section: grace_s, min_fps_ratio; and the rules
    the install gates check). settings: what ``edge run`` would run; its ``model`` /
    ``labels`` are used while the store has no current version. keep_open: sinks that live
    across swaps (the alert manager); closed by ``run`` at its end."""

    def __init__(self, cfg: EdgeConfig, settings: RunSettings, store: ModelStore,
                 keep_open: list[ResultSink] | None = None, fps_window_s: float = 10.0,
                 stop_timeout_s: float = 10.0) -> None:
        self.cfg = cfg
        self.settings = settings
        self.store = store
        self.keep_open = list(keep_open or [])
        self.fps_window_s = fps_window_s
        self.stop_timeout_s = stop_timeout_s
        self._requests: queue.Queue[_Request] = queue.Queue()
        self._stopping = threading.Event()
        self._run: _Run | None = None
        self._heartbeat = None
        self.last_summary: dict = {}
        # told the outcome of a swap made outside a delivery (edge model install/activate/
        # rollback while running): (outcome, version) -> None; the updater reports it
        self.on_external: Callable[[InstallOutcome, str], None] | None = None

    # -- any thread -----------------------------------------------------------------------
    @property
    def version(self) -> str | None:
        """The store version the running pipeline uses (None: the config's model)."""
        return self._run.version if self._run is not None else self.store.current()

    def stop(self) -> None:
        self._stopping.set()
        if self._run is not None:
            self._run.pipeline.stop()

    def install(self, package: Path, delivery: Delivery | None = None) -> InstallOutcome:
        """Install ``package`` and swap to it (the Updater's installer); blocks until the
        outcome, grace period included."""
        req = _Request(Path(package), delivery)
        self._requests.put(req)
        while not req.done.wait(0.5):
            if self._stopping.is_set() and not req.done.is_set():
                # run() answers every pending request on its way out; wait for that
                req.done.wait(self.stop_timeout_s + 5.0)
                break
        return req.outcome or InstallOutcome("failed", "the device stopped before the install",
                                             version=self.version)

    # -- main thread ----------------------------------------------------------------------
    def run(self) -> dict:
        """Run until the source ends, SIGINT/SIGTERM or ``stop()``; returns the last
        pipeline's summary. A pipeline crash outside a grace period is raised, as a plain
        ``edge run`` would (systemd restarts the service)."""
        from edge.service import SystemdNotifier, install_stop_handlers, restore_handlers

        notifier = SystemdNotifier()
        self._heartbeat = notifier.heartbeat
        previous = install_stop_handlers(self.stop)
        try:
            self._run = self._start_or_fall_back()
            notifier.ready(f"detecting on {self.settings.source} with model "
                           f"{self._run.version or self.settings.model.name}")
            next_store_check = time.monotonic() + 1.0
            while not self._stopping.is_set():
                try:
                    req = self._requests.get(timeout=0.2)
                except queue.Empty:
                    req = None
                if req is not None:
                    self._serve(req)
                elif time.monotonic() >= next_store_check:
                    next_store_check = time.monotonic() + 1.0
                    self._follow_store()
                if self._stopping.is_set():
                    break
                if self._run.done.is_set():
                    if self._run.error is not None:
                        raise self._run.error
                    log.info("source ended; supervisor stopping")
                    break
            return self._finish()
        finally:
            self._stopping.set()
            if self._run is not None and not self._run.done.is_set():
                self._run.stop(self.stop_timeout_s)
            self._answer_pending()
            close_each(self.keep_open)
            notifier.stopping()
            restore_handlers(previous)

    def _serve(self, req: _Request) -> None:
        try:
            req.outcome = self._install(req.package)
        except Exception as e:
            # the box's own trouble (disk full, store unwritable): report it; keep running
            # if the pipeline still does, else end like a crashed `edge run`
            log.exception("fleet: installing %s failed", req.package)
            req.outcome = InstallOutcome("failed", f"{type(e).__name__}: {e}",
                                         version=self.version)
            if self._run.done.is_set() and self._run.error is None:
                raise
        finally:
            req.done.set()

    def _finish(self) -> dict:
        run = self._run
        if not run.done.is_set():
            run.stop(self.stop_timeout_s)
        self.last_summary = dict(run.summary or {})
        return self.last_summary

    def _answer_pending(self) -> None:
        while True:
            try:
                req = self._requests.get_nowait()
            except queue.Empty:
                return
            req.outcome = InstallOutcome("failed", "the device stopped before the install",
                                         version=self.version)
            req.done.set()

    def _settings_for(self, version: str | None) -> RunSettings:
        s = self.settings
        if version is not None:
            s = dataclasses.replace(s, model=self.store.model_path(version, s.delegate),
                                    labels=self.store.labels_path(version))
        return s

    def _start(self, version: str | None) -> _Run:
        """Build (every load error surfaces here) and start the pipeline on ``version``."""
        from edge.alerts.labels import check_rule_labels, model_labels

        s = self._settings_for(version)
        # the gates checked the package's labels; a config model or a store edited by hand
        # gets the same check here
        check_rule_labels(self.cfg.alerts.rules, model_labels(s.model, s.labels), s.model)
        meter = FrameMeter()
        shared = [KeepOpen(k) for k in self.keep_open]
        s = dataclasses.replace(s, extra_sinks=[*shared, meter])
        pipeline = build_pipeline(s)
        try:
            # health states and /metrics follow the pipeline (edge.health.attach), as in
            # `edge run`; the pipeline closes them at its end
            from edge.health import alert_manager, attach

            health = attach(pipeline, self.cfg, alert_manager(self.keep_open),
                            delegate=s.delegate, model=s.model, version=version)
        except Exception:
            _discard(pipeline)
            raise
        pipeline.heartbeat = self._heartbeat
        run = _Run(pipeline, version, meter, shared, health)
        run.thread.start()
        log.info("running model %s (%s)", version or "from the config", s.model)
        return run

    def _start_or_fall_back(self) -> _Run:
        """The store's current version; if it cannot start, roll back (to the previous
        version or the config's model) and say why."""
        version = self.store.current()
        try:
            return self._start(version)
        except Exception as e:
            if version is None:
                raise
            reason = f"{version} does not start: {type(e).__name__}: {e}"
            log.error("fleet: %s", reason)
            self._roll_store_back(reason)
            run = self._start(self.store.current())
            if self.on_external is not None:
                self.on_external(InstallOutcome("rolled_back", reason, version=run.version,
                                                previous=version), version)
            return run

    def _install(self, package: Path) -> InstallOutcome:
        from edge.fleet.install import install_package

        old = self._run
        fps_before = old.meter.fps(self.fps_window_s)  # before the gates load the CPU
        log.info("fleet: installing %s (model %s at %s FPS)", package.name,
                 old.version or "from the config", "?" if fps_before is None else f"{fps_before:.1f}")
        report = install_package(package, self.store, self.cfg, activate=True)
        if not report.ok:
            return InstallOutcome("refused", report.reason, version=old.version,
                                  map_delta=report.map_delta)
        if report.status == "already_installed":
            return InstallOutcome("installed", report.reason, version=report.version)
        return self._swap(report.version, fps_before, report.reason, report.map_delta)

    def _swap(self, new: str, fps_before: float | None, reason: str,
              map_delta: float | None = None) -> InstallOutcome:
        """Stop the running pipeline, start one on store version ``new`` (already current
        in the store), watch it for the grace period; roll back on any failure."""
        old = self._run
        log.info("fleet: swapping %s -> %s", old.version or "config model", new)
        old.stop(self.stop_timeout_s)
        self.last_summary = dict(old.summary or {})
        try:
            self._run = self._start(new)
        except Exception as e:  # noqa: BLE001 - a model that cannot build is rolled back
            return self._roll_back(new, old.version, f"{new} does not start: "
                                   f"{type(e).__name__}: {e}", map_delta)
        verdict, fps_after = self._watch(self._run, fps_before)
        if verdict is not None:
            return self._roll_back(new, old.version, verdict, map_delta, fps_after)
        log.info("fleet: %s accepted after its grace period (%s FPS)", new,
                 "?" if fps_after is None else f"{fps_after:.1f}")
        return InstallOutcome("installed", reason, version=new, previous=old.version,
                              map_delta=map_delta, fps=fps_after)

    def _follow_store(self) -> None:
        """``edge model install / activate / rollback`` changed ``current`` behind our back:
        swap to it under the same grace watch as a delivery."""
        current = self.store.current()
        if current is None or current == self._run.version:
            return  # (a store emptied by hand: the running model stays until a restart)
        log.info("fleet: the store's current version is now %s (changed outside this "
                 "process)", current)
        out = self._swap(current, self._run.meter.fps(self.fps_window_s),
                         f"{current} activated in the store (edge model)")
        if self.on_external is not None:
            self.on_external(out, current)

    def _watch(self, run: _Run, fps_before: float | None) -> tuple[str | None, float | None]:
        """(None, FPS) when ``run`` passes the grace period, else (why not, FPS)."""
        fleet = self.cfg.fleet
        grace, stall_s = fleet.grace_s, fleet.grace_s / 2
        t0 = time.monotonic()
        log.info("fleet: watching %s for %g s", run.version, grace)
        while (now := time.monotonic()) < t0 + grace:
            if self._stopping.is_set():
                return None, run.meter.fps(stall_s)  # stopped by the user: nothing against it
            if run.done.is_set():
                if run.error is not None:
                    return (f"pipeline crashed {now - t0:.1f} s after the swap: "
                            f"{type(run.error).__name__}: {run.error}"), None
                return None, run.meter.fps(stall_s)  # the source ended, not the model
            last = run.meter.last or t0
            if now - last > stall_s:
                return (f"stalled: no frame for {now - last:.1f} s after the swap "
                        f"(grace_s / 2 = {stall_s:g} s)"), 0.0
            time.sleep(0.1)
        fps_after = run.meter.fps(stall_s)
        if fps_before and fps_after is not None and fps_after < fleet.min_fps_ratio * fps_before:
            return (f"FPS collapsed: {fps_after:.1f} after the swap vs {fps_before:.1f} before "
                    f"(fleet.min_fps_ratio {fleet.min_fps_ratio:g})"), fps_after
        return None, fps_after

    def _roll_back(self, bad: str, good: str | None, reason: str, map_delta: float | None = None,
                   fps: float | None = None) -> InstallOutcome:
        log.warning("fleet: rolling back %s: %s", bad, reason)
        if self._run is not None and self._run.version == bad and not self._run.done.is_set():
            # a hung invoke will not return: waiting long only keeps the box blind
            self._run.stop(min(self.stop_timeout_s, 1.0))
        self._roll_store_back(reason)
        self._run = self._start(self.store.current())  # the model that ran a minute ago
        return InstallOutcome("rolled_back", reason, version=self._run.version, previous=bad,
                              map_delta=map_delta, fps=fps)

    def _roll_store_back(self, reason: str) -> None:
        if self.store.previous() is not None:
            self.store.rollback(reason)
            return
        # the first install replaced the config's model, so there is no previous version
        self.store.deactivate(reason)


def _discard(pipeline: Pipeline) -> None:
    """Close what a pipeline that will never run opened (its source, its own outputs)."""
    close_each([pipeline.source, *pipeline.sinks])


def takes_deliveries(cfg: EdgeConfig) -> bool:
    return cfg.alerts.mqtt is not None and (cfg.fleet.updates or bool(cfg.fleet.groups))


def supervised(cfg: EdgeConfig) -> bool:
    """True when ``edge run --config`` runs under the supervisor: the config takes
    deliveries over MQTT, or the store has a current version (installed by ``edge model
    install``), which then runs instead of the config's ``model``."""
    return takes_deliveries(cfg) or store_for(cfg).current() is not None


def supervise(cfg: EdgeConfig, settings: RunSettings, keep_open: list[ResultSink]) -> dict:
    """What ``edge run --config`` runs when the fleet is in play: the supervisor on the
    store's current model, with the MQTT updater when the config has an mqtt section and
    deliveries (``fleet.updates`` or ``fleet.groups``). Returns the run summary."""
    from edge.fleet.updater import Updater

    store = store_for(cfg)
    sup = Supervisor(cfg, settings, store, keep_open)
    updater = None
    if takes_deliveries(cfg):
        updater = Updater(cfg.alerts.mqtt, cfg.device, cfg.fleet, lambda: sup.version,
                          lambda path, _d: sup.install(path), store.root,
                          home_assistant=cfg.alerts.home_assistant).start()
        sup.on_external = updater.report
    try:
        return sup.run()
    finally:
        if updater is not None:
            updater.close()

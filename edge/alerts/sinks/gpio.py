"""A GPIO output (buzzer, LED, relay) driven by events, via gpiozero (imported lazily).

mode pulse: on for ``seconds`` at each event start (a new start while on restarts the pulse).
mode hold: on from the first start until the last active event ends.
An optional button acknowledges: the output goes off now, and new events are ignored for
``button.silence_s``. Tests use gpiozero's MockFactory (``GPIOZERO_PIN_FACTORY=mock``).
"""

from __future__ import annotations

import logging
import threading
import time

from edge.alerts.config import GpioOutputConfig
from edge.alerts.events import AlertEvent

log = logging.getLogger(__name__)
# a pulse still sounding when edge stops is allowed to finish, up to this long
_CLOSE_WAIT_S = 10.0


def _gpiozero():
    try:
        import gpiozero
    except ImportError as e:
        raise RuntimeError("gpio: the gpiozero package is missing; pip install gpiozero "
                           "(and on a Pi: sudo apt install python3-lgpio)") from e
    return gpiozero


class GpioSink:
    def __init__(self, name: str, cfg: GpioOutputConfig) -> None:
        gz = _gpiozero()
        self.name = name
        self.cfg = cfg
        self._lock = threading.Lock()
        self._active: set[str] = set()
        self._pulse_until = 0.0
        self._silence_until = 0.0
        self.pulses = 0
        self.silenced = 0
        self.acks = 0
        self.button = None
        try:
            self.out = gz.DigitalOutputDevice(cfg.pin, active_high=cfg.active_high,
                                              initial_value=False)
            if cfg.button is not None:
                self.button = gz.Button(cfg.button.pin, pull_up=cfg.button.pull_up)
                self.button.when_pressed = self._acknowledge
        except gz.BadPinFactory as e:
            self._close_devices()
            raise RuntimeError(
                f"gpio.{name}: this machine has no usable GPIO ({e}). On a Raspberry Pi "
                "install lgpio (sudo apt install python3-lgpio); to test without hardware set "
                "GPIOZERO_PIN_FACTORY=mock") from e
        except gz.GPIOZeroError as e:
            self._close_devices()
            raise RuntimeError(f"gpio.{name}: cannot use GPIO{cfg.pin}"
                               f"{'/' + str(cfg.button.pin) if cfg.button else ''}: {e}") from e

    def publish(self, event: AlertEvent) -> None:
        now = time.monotonic()
        with self._lock:
            if self.cfg.mode == "hold":
                if event.phase == "end":
                    self._active.discard(event.id)
                    if not self._active:
                        self.out.off()
                    return
                if event.phase == "start":
                    if now < self._silence_until:
                        self.silenced += 1
                        return
                    self._active.add(event.id)
                    self.out.on()
                return
            if event.phase != "start":
                return
            if now < self._silence_until:
                self.silenced += 1
                return
            # gpiozero times the pulse on its own thread; n=1 leaves the output off after
            self.out.blink(on_time=self.cfg.seconds, off_time=0, n=1, background=True)
            self._pulse_until = now + self.cfg.seconds
            self.pulses += 1

    def _acknowledge(self) -> None:
        with self._lock:
            self.acks += 1
            self._active.clear()
            self._pulse_until = 0.0
            self._silence_until = time.monotonic() + (self.cfg.button.silence_s if self.cfg.button else 0)
            self.out.off()
        log.info("gpio.%s: acknowledged by button on GPIO%d", self.name, self.cfg.button.pin)

    @property
    def is_on(self) -> bool:
        return bool(self.out.value)

    def stats(self) -> dict:
        return {"pulses": self.pulses, "silenced": self.silenced, "acks": self.acks,
                "on": self.is_on}

    def close(self) -> None:
        # gpiozero's blink thread switches the pin on a little after publish() returns, so
        # wait for the output itself to go off (bounded) rather than for publish + seconds
        if self.cfg.mode == "pulse" and self._pulse_until > time.monotonic():
            deadline = time.monotonic() + _CLOSE_WAIT_S
            while self.out.is_active and time.monotonic() < deadline:
                time.sleep(0.01)
        self._close_devices()

    def _close_devices(self) -> None:
        for dev in (getattr(self, "out", None), self.button):
            if dev is not None:
                try:
                    dev.off() if hasattr(dev, "off") else None
                finally:
                    dev.close()

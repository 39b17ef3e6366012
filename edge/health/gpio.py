"""Health problems on a GPIO output (an LED, buzzer or relay from the ``gpio:`` section).

The output is driven by the alerts' own ``GpioSink``, so ``mode``, ``seconds`` and the
acknowledge button behave as for rule events: ``hold`` keeps it on while any health state
is on, ``pulse`` pulses at each state turning on. Each state is one "event" (id
``health-<state>``): start when it turns on, end when it clears. When a rule already uses
the output, health feeds the same sink worker (its hold then covers both)."""

from __future__ import annotations

import time

import numpy as np

from edge.alerts.events import AlertEvent
from edge.health.states import Transition

_NO_BOX = np.zeros(4, np.float32)


def health_event(t: Transition, device: str, since: float) -> AlertEvent:
    """The GPIO sink's view of a transition: only ``phase`` and ``id`` drive it."""
    now = time.time()
    return AlertEvent(id=f"health-{t.name}", phase="start" if t.on else "end",
                      seq=0 if t.on else 1, rule="health", device=device, label=t.name,
                      score=1.0, best_score=1.0, box=_NO_BOX, best_box=_NO_BOX, size_wh=(0, 0),
                      start_time=since, time=now, frame_index=0, frame_count=0,
                      t_capture=time.monotonic(), end_time=None if t.on else now,
                      end_reason=None if t.on else "gone")


class HealthGpio:
    """Submits each transition to a SinkRunner of a GpioSink; ``owned``: close it with us."""

    def __init__(self, name: str, runner, device: str, owned: bool) -> None:
        self.name = name
        self.runner = runner
        self.device = device
        self.owned = owned

    def notify(self, payload: dict, changed: list[Transition]) -> None:
        for t in changed:
            since = payload["states"][t.name]["since"]
            self.runner.submit(health_event(t, self.device, since))

    def close(self, timeout: float = 10.0) -> None:
        if self.owned:
            self.runner.close(timeout)

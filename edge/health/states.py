"""The health states, their on/off history and the JSON that goes out on
``<prefix>/<device>/health``.

A state changes only on an on/off transition; its ``detail`` is the reason given when it
last changed, so the retained message is stable between transitions (a detail such as
"no frame for 12.3 s" would otherwise change every check and flood the broker).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

# order = order in the JSON, in Home Assistant and in docs/health.md
STATES: tuple[str, ...] = ("camera_stalled", "detector_stalled", "fps_low", "delegate_lost",
                           "queue_full", "throttled")


@dataclass
class State:
    on: bool
    since: float  # time.time() of the last transition (or of the first evaluation)
    detail: str


@dataclass(frozen=True)
class Transition:
    name: str
    on: bool
    detail: str
    after_s: float  # how long the previous value lasted


class HealthStates:
    """The current value of every state; ``update`` returns what changed."""

    def __init__(self, names: tuple[str, ...] = STATES) -> None:
        self.names = names
        self.states: dict[str, State] = {}

    def update(self, results: Mapping[str, tuple[bool, str]],
               wall: float | None = None) -> list[Transition]:
        """``results``: state -> (on, detail) for this evaluation. The first call sets every
        state and returns its problems as transitions (a box that starts broken says so)."""
        wall = time.time() if wall is None else wall
        out = []
        for name in self.names:
            on, detail = results[name]
            prev = self.states.get(name)
            if prev is None:
                self.states[name] = State(on, wall, detail)
                if on:
                    out.append(Transition(name, True, detail, 0.0))
            elif prev.on != on:
                out.append(Transition(name, on, detail, wall - prev.since))
                self.states[name] = State(on, wall, detail)
        return out

    def is_on(self, name: str) -> bool:
        s = self.states.get(name)
        return s is not None and s.on

    @property
    def problems(self) -> list[str]:
        return [n for n in self.names if self.is_on(n)]

    def payload(self, device: str, wall: float | None = None) -> dict:
        """The retained health JSON (docs/health.md)."""
        return {
            "device": device,
            "ok": not self.problems,
            "problems": self.problems,
            # time.time() seconds, as in the event payloads
            "time": round(time.time() if wall is None else wall, 3),
            "states": {n: {"on": s.on, "since": round(s.since, 3), "detail": s.detail}
                       for n, s in self.states.items()},
        }

"""Per-node circuit breakers, fed by the outcomes of real requests.

closed --N consecutive failures--> open --cooldown--> half-open --success--> closed
                                     ^                    |
                                     +------failure-------+

Gossip says whether a node is alive; a breaker says whether it has been *answering*. A node can
be alive to probes while its inference server is wedged: the breaker keeps requests away from
it, and after the cooldown lets a few probe requests through to notice recovery.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from harombe.settings.routing import RoutingConfig


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Breaker:
    def __init__(
        self, *, threshold: int, cooldown: float, probes: int, clock: Callable[[], float]
    ) -> None:
        self._threshold = threshold
        self._cooldown = cooldown
        self._probes = probes
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = 0

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self._cooldown:
            self._state = BreakerState.HALF_OPEN
            self._probing = 0
        return self._state

    @property
    def failures(self) -> int:
        """Consecutive failures so far."""
        return self._failures

    def allows(self) -> bool:
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        return state is BreakerState.HALF_OPEN and self._probing < self._probes

    def on_start(self) -> None:
        """A request is being sent to the node (counts as a probe while half-open)."""
        if self.state is BreakerState.HALF_OPEN:
            self._probing += 1

    def on_success(self) -> None:
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._probing = 0

    def on_failure(self) -> None:
        self._failures += 1
        state = self.state
        if state is BreakerState.HALF_OPEN or (
            state is BreakerState.CLOSED and self._failures >= self._threshold
        ):
            self._state = BreakerState.OPEN
            self._opened_at = self._clock()
            self._probing = 0

    def on_abandon(self) -> None:
        """A request ended without a verdict (the client went away): free its probe slot."""
        if self._state is BreakerState.HALF_OPEN and self._probing > 0:
            self._probing -= 1


class BreakerBoard:
    """The breakers of every node this peer has sent work to; unknown nodes count as closed."""

    def __init__(
        self, *, threshold: int, cooldown: float, probes: int, clock: Callable[[], float]
    ) -> None:
        self._settings = {
            "threshold": threshold,
            "cooldown": cooldown,
            "probes": probes,
            "clock": clock,
        }
        self._breakers: dict[str, Breaker] = {}

    @classmethod
    def from_config(cls, config: RoutingConfig, clock: Callable[[], float]) -> BreakerBoard:
        return cls(
            threshold=config.breaker_failure_threshold,
            cooldown=config.breaker_cooldown,
            probes=config.breaker_half_open_probes,
            clock=clock,
        )

    def get(self, name: str) -> Breaker:
        breaker = self._breakers.get(name)
        if breaker is None:
            breaker = self._breakers[name] = Breaker(**self._settings)
        return breaker

    def allows(self, name: str) -> bool:
        breaker = self._breakers.get(name)
        return breaker is None or breaker.allows()

    def state(self, name: str) -> BreakerState:
        breaker = self._breakers.get(name)
        return BreakerState.CLOSED if breaker is None else breaker.state

    def snapshot(self) -> dict[str, str]:
        """Node name → "closed" | "open" | "half_open" (for /cluster/status)."""
        return {name: b.state.value for name, b in self._breakers.items()}

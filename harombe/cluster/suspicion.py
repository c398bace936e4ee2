"""Lifeguard's dynamic suspicion timeout: shrinks as independent peers confirm a suspicion."""

from __future__ import annotations

import math

from harombe.cluster.timers import Timer


def remaining_suspicion_time(
    n: int, k: int, elapsed: float, min_timeout: float, max_timeout: float
) -> float:
    """Seconds left of a suspicion with n independent confirmations out of k expected.

    timeout = max(min, max - (max - min) * log(n + 1) / log(k + 1)), minus the time elapsed
    (memberlist's remainingSuspicionTime, in seconds).
    """
    if k < 1:
        return min_timeout - elapsed
    frac = math.log(n + 1) / math.log(k + 1)
    raw = max_timeout - frac * (max_timeout - min_timeout)
    return max(raw, min_timeout) - elapsed


class Suspicion:
    """One suspected peer: who has confirmed it, and when it must be declared dead."""

    __slots__ = ("_confirmed", "k", "max_timeout", "min_timeout", "n", "start", "timer")

    def __init__(
        self, start: float, k: int, min_timeout: float, max_timeout: float, first: str
    ) -> None:
        self.start = start
        self.k = k
        self.min_timeout = min_timeout
        self.max_timeout = max_timeout if k >= 1 else min_timeout
        self.n = 0
        self._confirmed = {first}
        self.timer: Timer | None = None
        """The pending check of this suspicion's deadline."""

    def confirm(self, origin: str) -> bool:
        """Count `origin`'s suspicion once; True when it is a new, useful confirmation."""
        if self.n >= self.k or origin in self._confirmed:
            return False
        self._confirmed.add(origin)
        self.n += 1
        return True

    @property
    def deadline(self) -> float:
        return self.start + remaining_suspicion_time(
            self.n, self.k, 0.0, self.min_timeout, self.max_timeout
        )

"""Lifeguard's local-health awareness: a struggling node slows its own probing down."""

from __future__ import annotations


class Awareness:
    """Health score in [0, max_multiplier - 1]; 0 is healthy.

    Raised by missed nacks, refutations of our own suspicion and event-loop lag; lowered by
    each successful probe. Probe intervals, probe timeouts and suspicion timeouts are
    multiplied by score + 1, so a node whose own loop or network is the problem waits longer
    before accusing others, and a cut-off node (every probe and nack missing) declares no one
    dead until it has heard from the cluster again.
    """

    __slots__ = ("max_multiplier", "score")

    def __init__(self, max_multiplier: int) -> None:
        self.max_multiplier = max_multiplier
        self.score = 0

    def apply(self, delta: int) -> None:
        self.score = min(max(self.score + delta, 0), self.max_multiplier - 1)

    def scale(self, timeout: float) -> float:
        return timeout * (self.score + 1)

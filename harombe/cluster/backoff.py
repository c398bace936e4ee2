"""Exponential backoff with jitter, shared by the peer transport and the seed joiner."""

from __future__ import annotations

import random


def backoff_delay(attempt: int, minimum: float, maximum: float, rng: random.Random) -> float:
    """Seconds to wait before retry number `attempt` (1-based).

    The ceiling doubles from `minimum` up to `maximum`; the delay is drawn uniformly from the
    upper half of it ("equal jitter"), so peers that failed together do not retry in lockstep
    while each still waits at least half the ceiling.
    """
    ceiling = min(maximum, minimum * 2 ** max(0, attempt - 1))
    return rng.uniform(ceiling / 2, ceiling)

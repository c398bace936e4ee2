"""Dropped frames: counted by reason, logged as one warning line per interval at most.

A stranger can send a peer any number of bad frames; each must cost a counter increment, not
a log line (let alone a traceback), so the log says how many of each reason were dropped since
it last spoke. The interval runs on the membership's own time (`now`): the core reads no
clock.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable

from harombe.ratelimited_log import RateLimitedLog

log = logging.getLogger("harombe.cluster.membership")


class DropLog:
    def __init__(
        self, counts: collections.Counter[str], interval: float, now: Callable[[], float]
    ) -> None:
        """`counts`: where the totals by reason are kept (MembershipStats.dropped)."""
        self.counts = counts
        self._log = RateLimitedLog(log, interval, clock=now)

    def drop(self, reason: str) -> None:
        self.counts[reason] += 1
        self._log.event(f"membership frames dropped ({reason})")

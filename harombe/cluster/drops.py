"""Dropped frames: counted by reason, logged as one warning line per reason and interval.

A stranger can send a peer any number of bad frames; each must cost a counter increment, not
a log line (let alone a traceback), so the log says how many were dropped since it last
spoke of that reason.
"""

from __future__ import annotations

import collections
import logging
import math

log = logging.getLogger("harombe.cluster.membership")


class DropLog:
    def __init__(self, counts: collections.Counter[str], interval: float) -> None:
        """`counts`: where the totals by reason are kept (MembershipStats.dropped)."""
        self.counts = counts
        self.interval = interval
        self._last_logged: dict[str, float] = {}
        self._unlogged: collections.Counter[str] = collections.Counter()

    def drop(self, reason: str, now: float, detail: str = "") -> None:
        self.counts[reason] += 1
        self._unlogged[reason] += 1
        if now - self._last_logged.get(reason, -math.inf) < self.interval:
            return
        self._last_logged[reason] = now
        count = self._unlogged.pop(reason)
        log.warning(
            "membership: dropped %d frame%s (%s)%s; next report in %g s at the earliest",
            count,
            "" if count == 1 else "s",
            reason,
            f": {detail}" if detail else "",
            self.interval,
        )

"""One warning line per interval for events that may come in floods (refused connections)."""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable


class RateLimitedLog:
    """Counts events and logs them as one warning line at most once per `interval` seconds."""

    def __init__(
        self,
        logger: logging.Logger,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._pending: collections.Counter[str] = collections.Counter()
        self._next = 0.0

    def event(self, what: str) -> None:
        self._pending[what] += 1
        now = self._clock()
        if now < self._next:
            return
        summary = ", ".join(f"{count} {kind}" for kind, count in sorted(self._pending.items()))
        self._logger.warning("%s (at most one such line per %g s)", summary, self._interval)
        self._pending.clear()
        self._next = now + self._interval

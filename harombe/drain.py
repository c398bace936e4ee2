"""Draining: on SIGTERM a peer stops taking new work and lets the work in flight finish.

`Drain` is the bookkeeping: `begin()` marks the peer draining (the HTTP edge then refuses new
work, see `harombe.api.draining`), `track()` wraps each piece of work, and `wait(limit_s)`
returns once none is left, `limit_s` has passed, or `cut()` (a second signal) says to stop
waiting. What is still running when `wait` returns is cut by the shutdown that follows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager


class Drain:
    """Counts work in flight; once draining, wakes `wait` when the count reaches zero."""

    def __init__(self) -> None:
        self.draining = False
        self.in_flight = 0
        self._done = asyncio.Event()

    def begin(self) -> None:
        self.draining = True
        if self.in_flight == 0:
            self._done.set()

    def cut(self) -> None:
        """Stop waiting for the work in flight (it is cut by the shutdown)."""
        self.begin()
        self._done.set()

    @contextmanager
    def track(self) -> Iterator[None]:
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
            if self.draining and self.in_flight == 0:
                self._done.set()

    async def wait(self, limit_s: float) -> bool:
        """Begin draining (if not yet) and wait at most `limit_s` seconds; True when no work
        was left in flight."""
        self.begin()
        try:
            async with asyncio.timeout(limit_s):
                await self._done.wait()
        except TimeoutError:
            pass
        return self.in_flight == 0

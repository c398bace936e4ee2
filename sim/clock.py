"""A virtual-time asyncio event loop.

`VirtualLoop` is a real `asyncio.SelectorEventLoop` whose `time()` is a virtual clock. Its
selector never sleeps while timers are pending: when the loop would block, the clock jumps to the
earliest timer instead. Unchanged asyncio code (`call_at`, `asyncio.sleep`, futures, tasks,
`asyncio.timeout`) therefore runs as fast as the CPU allows, and a run is deterministic for a
given seed because nothing depends on the wall clock.

Threads still work: with no timer pending the selector waits (in real time) for
`call_soon_threadsafe` wake-ups, so `asyncio.to_thread` completes, though virtual time does not
advance while it runs.
"""

from __future__ import annotations

import asyncio
import math
import selectors
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

IDLE_WAIT_S = 60.0
"""Real seconds the loop waits for a thread's wake-up when no timer is pending before it gives
up: a virtual loop with nothing scheduled and nothing in flight would otherwise hang forever."""


class VirtualTimeDeadlock(RuntimeError):
    """The loop has nothing to run, no timer pending and no thread waking it: a hang."""


class _VirtualSelector(selectors.DefaultSelector):
    """Polls the real selector without blocking, then advances the loop's virtual clock."""

    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualLoop | None = None

    def select(self, timeout: float | None = None) -> list:
        loop = self.loop
        assert loop is not None
        if timeout is None:
            events = super().select(IDLE_WAIT_S)
            if not events:
                raise VirtualTimeDeadlock(
                    f"virtual loop idle at t={loop.time():.3f}: nothing scheduled"
                )
            return events
        events = super().select(0)
        if not events and timeout > 0:
            loop.advance_to_next_timer(timeout)
        return events


class VirtualLoop(asyncio.SelectorEventLoop):
    """An asyncio event loop on virtual time (seconds, starting at `start`)."""

    def __init__(self, start: float = 0.0) -> None:
        selector = _VirtualSelector()
        super().__init__(selector)
        selector.loop = self
        self._now = start
        self._clock_resolution = 1e-9

    def time(self) -> float:
        return self._now

    def next_due(self) -> float:
        """When the loop itself next has work: now when callbacks are ready, else its
        earliest timer (cancelled ones included), inf with none."""
        if self._ready:  # type: ignore[attr-defined]
            return self._now
        scheduled = self._scheduled  # type: ignore[attr-defined]
        return scheduled[0]._when if scheduled else math.inf

    def skip_to(self, when: float) -> None:
        """Move the clock on to `when`, for a caller that runs its own timers up to the
        loop's next work (`next_due`), as the loop would run them, without an iteration of
        the loop per timer."""
        self._now = max(self._now, when)

    def advance_to_next_timer(self, timeout: float) -> None:
        """Jump to the earliest scheduled timer (exactly, so no float residue delays it)."""
        scheduled = self._scheduled  # type: ignore[attr-defined]
        if scheduled:
            self._now = max(self._now, scheduled[0]._when)
        else:
            self._now += timeout


def run(main: Callable[[], Awaitable[T]] | Coroutine[Any, Any, T], *, start: float = 0.0) -> T:
    """Run a coroutine (or a zero-argument coroutine function) on a fresh virtual loop."""
    loop = VirtualLoop(start)
    try:
        asyncio.set_event_loop(loop)
        coro = main() if callable(main) else main
        return loop.run_until_complete(coro)
    finally:
        try:
            _cancel_all(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))

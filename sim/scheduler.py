"""Many timers on one event-loop handle.

Every simulated peer's runner keeps a timer that moves after each frame it receives. As loop
handles, a thousand of them fill asyncio's heap with `TimerHandle`s compared in Python and
re-created on every move. `TimerQueue` keeps them in its own heap of `(when, seq, timer)`
tuples, compared in C and never down to the timer, and holds a single loop handle for the
earliest one, re-armed only when the earliest moves. Equal deadlines run in the order they were
scheduled, so a run stays deterministic. A timer never runs before its deadline: the loop runs
handles up to its clock resolution early, which sent runners through ticks with nothing due.

On the virtual loop (`sim.clock.VirtualLoop`) a pass does not stop at the first timer in the
future: while the loop itself has nothing to do before it (no ready callback, no earlier or
equal loop timer), the queue moves the clock on and runs it, as the loop would have run it
next, but without a loop iteration, a `TimerHandle` and a re-arm per timer.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable
from typing import Any


class Timer:
    """One scheduled callback: the part of `asyncio.TimerHandle` a runner uses."""

    __slots__ = ("_args", "_callback", "_cancelled", "_when")

    def __init__(self, when: float, callback: Callable[..., object], args: tuple[Any, ...]) -> None:
        self._when = when
        self._callback: Callable[..., object] | None = callback
        self._args: tuple[Any, ...] | None = args
        self._cancelled = False

    def when(self) -> float:
        return self._when

    def cancel(self) -> None:
        """Stays in the queue's heap until it surfaces; drops its references now."""
        self._cancelled = True
        self._callback = None
        self._args = None

    def cancelled(self) -> bool:
        return self._cancelled

    def __repr__(self) -> str:
        state = " cancelled" if self._cancelled else ""
        return f"<Timer when={self._when}{state} {self._callback!r}>"


class TimerQueue:
    """Timers multiplexed onto one `loop.call_at` handle; `call_at` mirrors the loop's."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = 0
        self._handle: asyncio.TimerHandle | None = None
        self._armed_at = 0.0
        self._firing = False

    def __len__(self) -> int:
        """Timers in the heap, cancelled ones not yet surfaced included."""
        return len(self._heap)

    def call_at(self, when: float, callback: Callable[..., object], *args: Any) -> Timer:
        timer = Timer(when, callback, args)
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, timer))
        if not self._firing and (self._handle is None or when < self._armed_at):
            self._arm(when)
        return timer

    def _arm(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._armed_at = when
        self._handle = self._loop.call_at(when, self._fire)

    def _fire(self) -> None:
        """Run every timer due by now, earliest first (timers they schedule that are due
        already run in this pass too), then re-arm once for the earliest left."""
        self._handle = None
        self._firing = True
        heap = self._heap
        loop = self._loop
        skip_to = getattr(loop, "skip_to", None)
        now = loop.time()
        try:
            while heap:
                when, _, timer = heap[0]
                callback, args = timer._callback, timer._args
                if callback is not None and when > now:
                    if skip_to is None or when >= loop.next_due():  # type: ignore[attr-defined]
                        break
                    skip_to(when)
                    now = when
                heapq.heappop(heap)
                if callback is None:
                    continue
                timer._callback = timer._args = None
                try:
                    callback(*args)
                except (SystemExit, KeyboardInterrupt):
                    raise
                except BaseException as exc:
                    self._loop.call_exception_handler(
                        {
                            "message": f"Exception in timer callback {callback!r}",
                            "exception": exc,
                            "handle": timer,
                        }
                    )
        finally:
            self._firing = False
            while heap and heap[0][2]._callback is None:
                heapq.heappop(heap)
            if heap:
                self._arm(heap[0][0])

"""Drives one Membership on the running asyncio loop with a single rescheduled timer handle.

`loop.time()` is `now` everywhere, so the same runner works on harombed's real loop and on
the simulator's virtual-time loop; there is no task per node, only one `call_at` handle. The
simulator passes its own `call_at`, which multiplexes every peer's handle onto one loop timer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from harombe.cluster.membership import Membership


class TimerHandle(Protocol):
    """What the runner needs of the handle a `call_at` returns (not `when()`: uvloop's handle
    for a deadline already past has none)."""

    def cancel(self) -> None: ...
    def cancelled(self) -> bool: ...


CallAt = Callable[[float, Callable[[float], None], float], TimerHandle]
"""`call_at(when, callback, arg)`, the shape of `loop.call_at` for one argument."""


class MembershipRunner:
    def __init__(
        self,
        membership: Membership,
        *,
        measure_loop_lag: bool = True,
        call_at: CallAt | None = None,
    ) -> None:
        self.membership = membership
        self._measure_lag = measure_loop_lag
        self._call_at = call_at
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: TimerHandle | None = None
        self._handle_at = 0.0  # its deadline: uvloop's handle for a past one has no when()
        self._left: asyncio.Event | None = None
        self._stopped = False

    def start(self) -> None:
        """Schedule ticks on the running loop."""
        self._loop = asyncio.get_running_loop()
        self._stopped = False
        self._schedule(self.membership.tick(self._loop.time()))

    def receive(self, data: bytes) -> bool:
        """Hand a frame from the transport to the membership (call on the loop thread); False
        when it was not a cluster member's."""
        loop = self._require_loop()
        authentic = self.membership.receive(data, loop.time())
        if not self._stopped:
            self._schedule(self.membership.next_deadline())
        return authentic

    def wake(self) -> None:
        """Tick now (after join or update_record, whose work is due immediately)."""
        loop = self._require_loop()
        if not self._stopped:
            self._schedule(loop.time())

    async def stop(self, leave: bool = True, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Stop ticking; with `leave`, first broadcast LEFT and keep gossiping until it has
        gone out (or `timeout`, default config.leave_timeout, passes)."""
        loop = self._require_loop()
        if leave and not self._stopped:
            if timeout is None:
                timeout = self.membership.config.leave_timeout
            self._left = asyncio.Event()
            self.membership.leave(loop.time())
            self._schedule(loop.time())
            try:
                await asyncio.wait_for(self._left.wait(), timeout)
            except TimeoutError:
                pass
        self._stopped = True
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _require_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("MembershipRunner.start() has not been called")
        return self._loop

    def _schedule(self, deadline: float) -> None:
        handle = self._handle
        if handle is not None and not handle.cancelled():
            if self._handle_at <= deadline:
                return
            handle.cancel()
        assert self._loop is not None
        call_at = self._call_at or self._loop.call_at
        self._handle = call_at(deadline, self._run, deadline)
        self._handle_at = deadline

    def _run(self, scheduled: float) -> None:
        assert self._loop is not None
        self._handle = None
        now = self._loop.time()
        if self._measure_lag:
            self.membership.note_loop_lag(max(0.0, now - scheduled))
        deadline = self.membership.tick(now)
        if self._left is not None and self.membership.leave_propagated:
            self._left.set()
        if not self._stopped:
            self._schedule(deadline)

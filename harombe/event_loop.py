"""The event loop harombed runs on: uvloop's when it is installed (`pip install harombe[fast]`),
else asyncio's own. With uvloop a peer spends measurably less CPU per routed request (see
docs/performance.md, "Routing overhead on loopback"); `HAROMBE_EVENT_LOOP=asyncio` keeps
asyncio's loop even then."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

LOOP_ENV = "HAROMBE_EVENT_LOOP"


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory when installed and not declined; None: asyncio's default."""
    if os.environ.get(LOOP_ENV, "").lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on the loop `loop_factory` chooses."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)

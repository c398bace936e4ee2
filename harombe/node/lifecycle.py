"""One lifecycle for the parts of a peer that start several things: `async with` starts them,
leaving closes them in reverse order, and a start that fails half way closes what it began."""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from typing import Any, Self


class Stacked(ABC):
    """Subclasses start their parts in `_start`, pushing each one's cleanup on `_stack`."""

    def __init__(self) -> None:
        self._stack = contextlib.AsyncExitStack()

    @abstractmethod
    async def _start(self) -> None:
        """Start the parts, pushing each one's cleanup on `self._stack`."""

    async def __aenter__(self) -> Self:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._stack.aclose()

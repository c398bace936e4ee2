"""Stopping the background tasks a peer owns."""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_task(task: asyncio.Task[Any]) -> None:
    """Cancel `task` and wait for it; the caller's own cancellation is never swallowed."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise

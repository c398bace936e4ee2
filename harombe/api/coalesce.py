"""Writing a stream of frames to an HTTP response with as few socket writes as possible.

A backend's chunks often arrive several to a read (a token each), and each one written on its
own costs a `send` system call and an HTTP chunk: on loopback that was most of a peer's CPU per
request. Here the producer only queues frames; a writer task sends everything queued so far in
one write whenever it runs, that is, as soon as the producer waits for the backend, and the
last frames go out together with the end of the response. Nothing is held back for later: a
frame is written in the same loop iteration it would have been anyway.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web


class StreamResponse(web.StreamResponse):
    """A streamed response whose headers go out with its first body bytes, in one write
    (aiohttp's `web.Response` does the same; `StreamResponse` sends them on `prepare`)."""

    _send_headers_immediately = False


MAX_QUEUED_BYTES = 256 * 1024
"""Bytes queued before the producer waits for the writer (backpressure from a slow client)."""


async def write_coalesced(response: web.StreamResponse, frames: AsyncIterator[bytes]) -> None:
    """Write every frame of `frames` to the prepared `response` and end it, coalescing frames
    produced together. A failed write (the client gone) is raised here; so is the failure that
    ended `frames`, once the frames before it are written, and the response is then left open
    (for an error frame). `frames` is not closed."""
    loop = asyncio.get_running_loop()
    queue: list[bytes] = []
    queued = 0
    idle: asyncio.Future[None] | None = None  # the writer's, while it waits for frames
    room = asyncio.Event()
    room.set()
    finished = False
    failure: Exception | None = None

    def wake() -> None:
        if idle is not None and not idle.done():
            idle.set_result(None)

    async def writer() -> None:
        nonlocal queue, queued, idle
        while True:
            if not queue:
                if finished:
                    if failure is None:
                        await response.write_eof()
                    return
                idle = loop.create_future()
                await idle
                idle = None
                continue
            batch, queue, queued = queue, [], 0
            room.set()
            data = batch[0] if len(batch) == 1 else b"".join(batch)
            if finished and failure is None:
                await response.write_eof(data)
                return
            await response.write(data)

    task = asyncio.create_task(writer())
    try:
        try:
            async for frame in frames:
                if task.done():
                    break
                queue.append(frame)
                queued += len(frame)
                wake()
                if queued >= MAX_QUEUED_BYTES:
                    room.clear()
                    await _either(room, task)
        except Exception as exc:  # raised below, once what came before it is written
            failure = exc
        finished = True
        wake()
        await task
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    if failure is not None:
        raise failure


async def _either(event: asyncio.Event, task: asyncio.Task[None]) -> None:
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait((waiter, task), return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()

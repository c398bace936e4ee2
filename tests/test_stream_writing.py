"""Streamed responses: frames produced together leave in one write, in order, with the end of
the response; a failure after some frames still delivers those first. And the daemon's task
cancelling helper never swallows its caller's own cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from harombe.api.coalesce import StreamResponse, write_coalesced
from harombe.node.tasks import cancel_task


class Recording(StreamResponse):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    async def write(self, data: bytes) -> None:  # type: ignore[override]
        self.writes.append(bytes(data))
        await super().write(data)

    async def write_eof(self, data: bytes = b"") -> None:
        if data:
            self.writes.append(bytes(data))
        await super().write_eof(data)


async def bursts(gate: asyncio.Event, fail: bool = False) -> AsyncIterator[bytes]:
    for i in range(3):  # three frames at once, then a wait (as when a read holds three tokens)
        yield f"a{i};".encode()
    await gate.wait()
    for i in range(2):
        yield f"b{i};".encode()
    if fail:
        raise RuntimeError("backend died")


async def serve(handler) -> tuple[web.AppRunner, str]:  # type: ignore[no-untyped-def]
    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/"


@pytest.mark.parametrize("fail", [False, True])
async def test_frames_produced_together_leave_in_one_write(fail):
    responses: list[Recording] = []
    gate = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        response = Recording()
        responses.append(response)
        await response.prepare(request)
        try:
            await write_coalesced(response, bursts(gate, fail))
        except RuntimeError:
            await response.write_eof(b"error;")
        return response

    runner, url = await serve(handler)
    try:
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            first = await resp.content.readexactly(len(b"a0;a1;a2;"))
            gate.set()
            rest = await resp.content.read()
    finally:
        await runner.cleanup()
    assert first == b"a0;a1;a2;"
    assert rest == (b"b0;b1;error;" if fail else b"b0;b1;")
    expected = [b"a0;a1;a2;", b"b0;b1;"] + ([b"error;"] if fail else [])
    assert responses[0].writes == expected


async def test_cancel_keeps_the_callers_own_cancellation():
    started = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            started.set()
            await asyncio.sleep(0.05)  # slow to stop, so the caller is cancelled meanwhile
            raise

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)

    async def caller() -> str:
        await cancel_task(task)
        return "went on as if not cancelled"

    outer = asyncio.create_task(caller())
    await started.wait()
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer
    assert task.cancelled()

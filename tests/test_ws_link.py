"""One outbound peer link on its own (cluster/ws_link.py): against a real aiohttp websocket
server on 127.0.0.1, and against a port nobody listens on."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from support.cli_support import free_port

from harombe.cluster.ws_link import (
    PEER_HEADER,
    DropReason,
    LinkSettings,
    LinkState,
    OutboundLink,
    TransportStats,
)


def settings(**overrides: object) -> LinkSettings:
    values: dict[str, object] = dict(
        local_address="127.0.0.1:1",
        path="/cluster/ws",
        scheme="http",
        max_frame_bytes=1024,
        connect_timeout=2.0,
        heartbeat=5.0,
        reconnect_min=0.01,
        reconnect_max=0.02,
        max_connect_failures=3,
        idle_timeout=60.0,
        queue_size=8,
    )
    return LinkSettings(**{**values, **overrides})


class Peer:
    """A websocket server that records each frame and the dialler's header, and answers every
    frame with b"ack"."""

    def __init__(self) -> None:
        self.frames: asyncio.Queue[bytes] = asyncio.Queue()
        self.dialled_by: list[str | None] = []

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        self.dialled_by.append(request.headers.get(PEER_HEADER))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type is WSMsgType.BINARY:
                self.frames.put_nowait(msg.data)
                await ws.send_bytes(b"ack")
        return ws


@pytest.fixture
async def peer() -> AsyncIterator[tuple[Peer, str]]:
    server = Peer()
    app = web.Application()
    app.router.add_get("/cluster/ws", server.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield server, f"127.0.0.1:{port}"
    await runner.cleanup()


async def test_a_link_writes_its_queue_and_hands_back_what_the_peer_sends(peer) -> None:
    server, address = peer
    replies: asyncio.Queue[bytes] = asyncio.Queue()

    async def read(ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            replies.put_nowait(msg.data)

    stats = TransportStats()
    async with aiohttp.ClientSession() as session:
        link = OutboundLink(
            address, settings(), session=session, stats=stats, read=read, rng=random.Random(1)
        )
        link.queue.put_nowait(b"one")
        link.queue.put_nowait(b"two")
        task = asyncio.create_task(link.run())
        try:
            async with asyncio.timeout(10):
                assert [await server.frames.get(), await server.frames.get()] == [b"one", b"two"]
                assert [await replies.get(), await replies.get()] == [b"ack", b"ack"]
            assert link.state is LinkState.CONNECTED
            assert (link.sent, stats.sent, stats.bytes_sent, stats.connects) == (2, 2, 6, 1)
            assert server.dialled_by == ["127.0.0.1:1"]
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_an_idle_link_ends_on_its_own(peer) -> None:
    _, address = peer

    async def read(ws: aiohttp.ClientWebSocketResponse) -> None:
        async for _ in ws:
            pass

    async with aiohttp.ClientSession() as session:
        link = OutboundLink(
            address,
            settings(idle_timeout=0.05),
            session=session,
            stats=TransportStats(),
            read=read,
            rng=random.Random(1),
        )
        async with asyncio.timeout(10):
            await link.run()  # returns: nothing was queued within idle_timeout


async def test_a_link_nobody_answers_gives_up_and_drops_what_was_queued() -> None:
    async def read(ws: aiohttp.ClientWebSocketResponse) -> None:
        raise AssertionError("never connected")

    stats = TransportStats()
    async with aiohttp.ClientSession() as session:
        link = OutboundLink(
            f"127.0.0.1:{free_port()}",
            settings(max_connect_failures=3),
            session=session,
            stats=stats,
            read=read,
            rng=random.Random(1),
        )
        link.queue.put_nowait(b"lost")
        async with asyncio.timeout(10):
            await link.run()
    assert stats.connect_failures == 3
    assert stats.dropped[DropReason.NOT_CONNECTED] == 1
    assert link.queue.empty()

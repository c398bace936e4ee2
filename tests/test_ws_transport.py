"""WebSocketTransport on its own: real aiohttp servers on 127.0.0.1, real websockets."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import WSCloseCode, WSMsgType, web
from support.cluster_harness import eventually

from harombe.cluster.ws_transport import PEER_HEADER, DropReason, LinkState, WebSocketTransport

MAX_FRAME = 1024


@dataclass
class Endpoint:
    """A transport mounted on its own aiohttp server; frames it receives land in `inbox`."""

    transport: WebSocketTransport
    runner: web.AppRunner
    port: int
    inbox: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def stop(self) -> None:
        await self.transport.close()
        await self.runner.cleanup()


def listening_socket(port: int = 0) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    sock.setblocking(False)
    return sock


async def start_endpoint(
    port: int = 0, on_frame: Callable[[bytes], None] | None = None, **options
) -> Endpoint:
    sock = listening_socket(port)
    port = sock.getsockname()[1]
    inbox: asyncio.Queue[bytes] = asyncio.Queue()
    options.setdefault("reconnect_min", 0.01)
    options.setdefault("reconnect_max", 0.05)
    transport = WebSocketTransport(
        local_address=f"127.0.0.1:{port}",
        on_frame=on_frame or inbox.put_nowait,
        max_frame_bytes=MAX_FRAME,
        **options,
    )
    app = web.Application()
    transport.add_routes(app)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    await transport.start()
    return Endpoint(transport, runner, port, inbox)


@pytest.fixture
async def endpoints() -> AsyncIterator[list[Endpoint]]:
    started: list[Endpoint] = []
    yield started
    for endpoint in started:
        await endpoint.stop()


async def test_frames_reach_the_peer_in_order_over_one_connection(endpoints):
    a, b = await start_endpoint(), await start_endpoint()
    endpoints += [a, b]
    for i in range(20):
        a.transport.send(b.address, b"frame-%d" % i)
    got = [await asyncio.wait_for(b.inbox.get(), 5) for _ in range(20)]
    assert got == [b"frame-%d" % i for i in range(20)]
    assert a.transport.stats.sent == 20
    assert a.transport.stats.connects == 1
    assert b.transport.stats.received == 20
    assert a.transport.link_states() == {b.address: LinkState.CONNECTED}


async def test_frames_that_cannot_go_are_dropped_and_counted(endpoints):
    a, b = await start_endpoint(queue_size=4), await start_endpoint()
    endpoints += [a, b]
    a.transport.send(a.address, b"to myself")
    a.transport.send(b.address, b"x" * (MAX_FRAME + 1))
    for i in range(10):  # nothing runs between these sends: 4 queue up, 6 overflow
        a.transport.send(b.address, b"burst-%d" % i)
    dropped = a.transport.stats.dropped
    assert dropped == {DropReason.SELF: 1, DropReason.OVERSIZED: 1, DropReason.QUEUE_FULL: 6}
    got = [await asyncio.wait_for(b.inbox.get(), 5) for _ in range(4)]
    assert got == [b"burst-%d" % i for i in range(4)]


async def test_send_before_start_is_a_programming_error():
    transport = WebSocketTransport(local_address="a:1", on_frame=print, max_frame_bytes=10)
    with pytest.raises(RuntimeError, match="start"):
        transport.send("b:1", b"x")


async def test_unreachable_peer_drops_frames_and_its_link_goes_away(endpoints):
    a = await start_endpoint(max_connect_failures=3)
    endpoints.append(a)
    with listening_socket() as sock:
        gone = f"127.0.0.1:{sock.getsockname()[1]}"
    a.transport.send(gone, b"lost")
    await eventually(lambda: a.transport.link_states() == {}, what="link dropped")
    assert a.transport.stats.connect_failures == 3
    assert a.transport.stats.dropped[DropReason.NOT_CONNECTED] >= 1
    assert a.transport.stats.sent == 0


async def test_link_reconnects_when_the_peer_comes_back_on_its_address(endpoints):
    a, b = await start_endpoint(max_connect_failures=1000), await start_endpoint()
    endpoints.append(a)
    a.transport.send(b.address, b"one")
    assert await asyncio.wait_for(b.inbox.get(), 5) == b"one"
    port = b.port
    await b.stop()
    await eventually(lambda: a.transport.link_states().get(b.address) is LinkState.BACKOFF)
    b = await start_endpoint(port)
    endpoints.append(b)

    def delivered() -> bool:
        a.transport.send(b.address, b"again")
        return not b.inbox.empty()

    await eventually(delivered, what="frames flow after the restart")
    assert a.transport.stats.connects == 2


async def test_a_peer_dialling_in_ends_our_backoff_towards_it(endpoints):
    # Backoff far longer than the test's deadline: only the redial can reconnect in time.
    a = await start_endpoint(reconnect_min=60.0, reconnect_max=60.0, max_connect_failures=1000)
    endpoints.append(a)
    with socket.socket() as probe:  # a free port, nobody listening on it yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    b_address = f"127.0.0.1:{port}"
    a.transport.send(b_address, b"lost")
    await eventually(lambda: a.transport.link_states().get(b_address) is LinkState.BACKOFF)
    b = await start_endpoint(port)
    endpoints.append(b)
    b.transport.send(a.address, b"hello, I am back")
    assert await asyncio.wait_for(a.inbox.get(), 5) == b"hello, I am back"

    def delivered() -> bool:
        a.transport.send(b.address, b"welcome")
        return not b.inbox.empty()

    await eventually(delivered, what="a's link to b redialled without waiting out its backoff")


async def test_idle_links_are_closed(endpoints):
    a, b = await start_endpoint(idle_timeout=0.05), await start_endpoint()
    endpoints += [a, b]
    a.transport.send(b.address, b"hello")
    await asyncio.wait_for(b.inbox.get(), 5)
    await eventually(lambda: a.transport.link_states() == {}, what="idle link closed")


async def test_receiver_error_is_counted_and_the_connection_survives(endpoints):
    seen: list[bytes] = []

    def fragile(data: bytes) -> None:
        if data == b"boom":
            raise ValueError("receiver bug")
        seen.append(data)

    a, b = await start_endpoint(), await start_endpoint(on_frame=fragile)
    endpoints += [a, b]
    for data in (b"boom", b"fine"):
        a.transport.send(b.address, data)
    await eventually(lambda: seen == [b"fine"])
    assert b.transport.stats.dropped == {DropReason.HANDLER_ERROR: 1}
    assert a.transport.stats.connects == 1


async def test_hostile_inbound_frames_are_dropped_and_counted(endpoints):
    a, b = await start_endpoint(), await start_endpoint()
    endpoints += [a, b]
    url = f"http://{b.address}{b.transport.path}"
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, headers={PEER_HEADER: "hostile"}) as ws:
            await ws.send_str("text is not spoken here")
            await ws.send_bytes(b"opaque bytes pass to the core")
            await ws.send_bytes(b"x" * (MAX_FRAME + 1))
            closing = await ws.receive()
        assert closing.type is WSMsgType.CLOSE
        assert closing.data == WSCloseCode.MESSAGE_TOO_BIG
        async with session.get(url) as plain:
            assert plain.status == 400
    assert await asyncio.wait_for(b.inbox.get(), 5) == b"opaque bytes pass to the core"
    assert b.transport.stats.dropped == {DropReason.TEXT_FRAME: 1, DropReason.OVERSIZED: 1}
    a.transport.send(b.address, b"still working")
    assert await asyncio.wait_for(b.inbox.get(), 5) == b"still working"


async def test_close_ends_links_and_inbound_sockets(endpoints):
    a, b = await start_endpoint(), await start_endpoint()
    endpoints.append(b)
    a.transport.send(b.address, b"hello")
    await asyncio.wait_for(b.inbox.get(), 5)
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"http://{a.address}{a.transport.path}") as ws:
            await a.stop()
            assert (await ws.receive()).type is WSMsgType.CLOSE
    assert a.transport.link_states() == {}
    a.transport.send(b.address, b"after close")
    assert a.transport.stats.dropped == {DropReason.CLOSED: 1}


async def test_close_lets_queued_frames_go_out_first(endpoints):
    a, b = await start_endpoint(), await start_endpoint()
    endpoints.append(b)
    for i in range(5):
        a.transport.send(b.address, b"last words %d" % i)
    await a.stop()
    got = [await asyncio.wait_for(b.inbox.get(), 5) for _ in range(5)]
    assert got == [b"last words %d" % i for i in range(5)]
    assert a.transport.stats.dropped == {}


async def test_an_inbound_socket_stays_once_one_frame_is_accepted(endpoints):
    """Frames `on_frame` refuses do not pass the handshake; the first it accepts does, and the
    socket then outlives the deadline."""
    accepted: list[bytes] = []

    def member_frames_only(data: bytes) -> bool:
        if data.startswith(b"ok"):
            accepted.append(data)
            return True
        return False

    b = await start_endpoint(on_frame=member_frames_only, handshake_timeout=0.3)
    endpoints.append(b)
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"http://{b.address}/cluster/ws")
        for frame in (b"forged-1", b"forged-2", b"ok-1"):
            await ws.send_bytes(frame)
        await eventually(lambda: accepted == [b"ok-1"], what="the valid frame to arrive")
        await ws.send_bytes(b"forged-after")  # dropped by on_frame, not by the transport
        with pytest.raises(TimeoutError):  # twice the handshake deadline: no close comes
            await ws.receive(timeout=0.6)
        await ws.send_bytes(b"ok-2")
        await eventually(lambda: accepted == [b"ok-1", b"ok-2"], what="a frame after the deadline")
        assert not ws.closed
        await ws.close()
    assert b.transport.stats.dropped[DropReason.UNVERIFIED] == 0

"""Hostile clients against a real peer on loopback: oversized bodies, slowloris, connection and
websocket floods. Limits are made short through the config, so the tests stay fast."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from support.cli_support import node_config, poll
from support.fake_ollama import FakeOllama
from support.membership_net import Forger

from harombe.api.peer_auth import RequestSigner
from harombe.cluster.messages import Ping
from harombe.daemon import Node
from harombe.inference import peer_wire
from harombe.inference.peer_wire import HOP_HEADER
from harombe.inference.types import ChatRequest, Message

MIB = 1024 * 1024


@contextlib.asynccontextmanager
async def peer(
    fake: FakeOllama | None = None, *, cluster_key: str | None = None, **limits: Any
) -> AsyncIterator[Node]:
    backend = {"kind": "ollama", "url": fake.url} if fake else {"kind": "none"}
    security = {"cluster_key": cluster_key} if cluster_key else {}
    config = node_config("edge", backend=backend, limits=limits, security=security)
    async with Node(config) as node:
        yield node


async def raw(node: Node) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = node.address.rsplit(":", 1)
    return await asyncio.open_connection(host, int(port))


async def response_of(reader: asyncio.StreamReader) -> tuple[int, dict[str, Any]]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.lower().split(b"\r\n")
        if line.startswith(b"content-length:")
    )
    return status, json.loads(await reader.readexactly(length))


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    """True when the server closes the connection (EOF or reset) within `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            while await reader.read(4096):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


@pytest.mark.parametrize(
    ("path", "error_of"),
    [
        ("/api/chat", lambda body: body["error"]),
        ("/v1/chat/completions", lambda body: body["error"]["message"]),
        ("/cluster/execute", lambda body: body["error"]),
    ],
)
async def test_declared_oversize_body_is_refused_in_the_endpoints_dialect(path, error_of):
    async with peer() as node:
        reader, writer = await raw(node)
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {40 * MIB}\r\n\r\n".encode()
        )
        status, body = await response_of(reader)  # no byte of the body was sent
        writer.close()
    assert status == 413
    assert "limits.max_body_bytes" in error_of(body)
    if path.startswith("/v1/"):
        assert body["error"]["code"] == "too_large"


async def test_chunked_body_is_cut_off_at_the_limit():
    async with peer(max_body_bytes=MIB) as node:
        reader, writer = await raw(node)
        writer.write(
            b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"x" * 65536
        sent = 0

        async def upload() -> None:
            nonlocal sent
            with contextlib.suppress(ConnectionError):
                for _ in range(640):  # 40 MiB if the server never stopped reading
                    writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    await writer.drain()
                    sent += len(chunk)

        uploading = asyncio.create_task(upload())
        status, body = await response_of(reader)
        uploading.cancel()
        writer.close()
    assert status == 413 and "too large" in body["error"]
    assert sent < 40 * MIB


async def test_slowloris_connections_are_closed_after_the_header_timeout():
    async with peer(header_timeout=1.0) as node:
        connections = [await raw(node) for _ in range(20)]
        for _, writer in connections:
            writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # headers never finish

        async def trickle() -> None:
            while True:
                for _, writer in connections:
                    with contextlib.suppress(ConnectionError):
                        writer.write(b"X-Slow: 1\r\n")
                await asyncio.sleep(0.2)

        trickling = asyncio.create_task(trickle())
        try:
            results = await asyncio.gather(*(closed_within(r, 10.0) for r, _ in connections))
        finally:
            trickling.cancel()
        assert all(results)
        assert node.guard.stats.events["header_timeout"] >= 20
        async with aiohttp.ClientSession() as http:  # the peer itself is unharmed
            async with http.get(f"http://{node.address}/health") as resp:
                assert resp.status == 200


async def test_a_connection_that_never_speaks_is_closed():
    async with peer(header_timeout=0.5) as node:
        reader, _ = await raw(node)
        assert await closed_within(reader, 5.0)


async def test_slow_body_gets_408():
    async with peer(body_timeout=0.5) as node:
        reader, writer = await raw(node)
        writer.write(b'POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"model"')
        status, body = await response_of(reader)
        writer.close()
    assert status == 408 and "not received" in body["error"]


@pytest.mark.parametrize("cluster_key", [None, "a-cluster-key-of-20c"])
async def test_a_peer_stalling_a_forwarded_body_is_cut_after_the_body_timeout(cluster_key):
    """A forwarded request whose headers (signed, when the cluster has a key) arrive whole and
    whose body stops half way gets 408 after `limits.body_timeout`, its handler done."""
    chat = ChatRequest([Message("user", "hi")], model="m")
    body = peer_wire.encode_request(chat)
    headers = {HOP_HEADER: "a", peer_wire.VERSION_HEADER: "1"}
    async with peer(cluster_key=cluster_key, body_timeout=0.5) as node:
        if cluster_key:
            signer = RequestSigner(node.config.security.keyring(), sender="a")
            headers |= signer.headers("POST", peer_wire.FORWARD_PATH, body, node.name)
        reader, writer = await raw(node)
        writer.write(
            f"POST {peer_wire.FORWARD_PATH} HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: {peer_wire.CONTENT_TYPE}\r\nContent-Length: {len(body)}\r\n".encode()
            + "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
            + b"\r\n"
            + body[: len(body) // 2]
        )
        async with asyncio.timeout(10):
            head = await reader.readuntil(b"\r\n\r\n")
        writer.close()
    assert head.startswith(b"HTTP/1.1 408")


async def test_idle_flood_beyond_the_cap_leaves_health_and_chat_answering(fake_ollama):
    async with peer(fake_ollama, max_connections=50) as node:
        flood = [await raw(node) for _ in range(200)]
        await poll(lambda: node.guard.stats.events["evicted"] >= 150, "idle connections evicted")
        assert node.guard.stats.open <= 50
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://{node.address}/health") as resp:
                assert resp.status == 200
            chat = {"model": "llama3.2:latest", "messages": [{"role": "user", "content": "hi"}]}
            async with http.post(f"http://{node.address}/api/chat", json=chat) as resp:
                assert resp.status == 200
        for _, writer in flood:
            writer.close()


async def test_new_connection_gets_503_when_every_connection_is_busy():
    async with peer(max_connections=2, body_timeout=30.0) as node:
        busy = [await raw(node) for _ in range(2)]
        for _, writer in busy:  # requests in flight: their bodies are still "coming"
            writer.write(b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        await poll(lambda: node.guard.stats.open == 2, "two busy connections")
        await asyncio.sleep(0)
        reader, _ = await raw(node)
        status, body = await response_of(reader)
        assert status == 503 and "too many connections" in body["error"]
        assert node.guard.stats.events["refused"] == 1
        for _, writer in busy:
            writer.close()


async def test_peer_websockets_beyond_the_cap_get_503():
    async with peer(max_peer_websockets=2) as node:
        url = f"http://{node.address}/cluster/ws"
        async with aiohttp.ClientSession() as http:
            held = [await http.ws_connect(url) for _ in range(2)]  # held till the deadline
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(url)
            assert refused.value.status == 503
            for ws in held:
                await ws.close()
        assert node.transport is not None
        assert node.transport.stats.dropped["too_many"] == 1


async def test_silent_websocket_is_closed_after_the_handshake_deadline():
    async with peer(ws_handshake_timeout=0.5) as node:
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(f"http://{node.address}/cluster/ws")
            msg = await ws.receive(timeout=5.0)
            assert msg.type is aiohttp.WSMsgType.CLOSE
            assert ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
        assert node.transport is not None
        assert node.transport.stats.dropped["silent"] == 1


async def test_a_websocket_sending_only_forged_frames_is_closed_after_the_handshake_deadline():
    """Frames under another cluster key (a stranger, or a peer with the wrong key) do not open
    the door: without one valid frame by the deadline the socket is closed like a silent one."""
    stranger = Forger("stranger", label="harombe", keyring=[b"not-the-cluster-key-0"])
    async with peer(cluster_key="the-cluster-key-0123", ws_handshake_timeout=0.5) as node:
        assert node.transport is not None and node.membership is not None
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(f"http://{node.address}/cluster/ws")

            async def forge() -> None:
                with contextlib.suppress(ConnectionError):
                    while not ws.closed:
                        await ws.send_bytes(stranger.frame(Ping(seq=1, target="edge")))
                        await asyncio.sleep(0.05)

            forging = asyncio.create_task(forge())
            msg = await ws.receive(timeout=5.0)
            forging.cancel()
            assert msg.type is aiohttp.WSMsgType.CLOSE
            assert ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
        assert node.transport.stats.dropped["unverified"] == 1
        assert node.membership.stats.dropped["unauthenticated"] >= 1


@pytest.mark.parametrize(("lingering", "closed"), [(0.2, True), (30.0, False)])
async def test_an_unread_body_is_dropped_for_the_lingering_timeout_then_closed(lingering, closed):
    """After a 413 with the body unsent, the connection waits `limits.lingering_timeout` for the
    rest (so the client can read the answer), then closes."""
    async with peer(max_body_bytes=1024, lingering_timeout=lingering) as node:
        reader, writer = await raw(node)
        writer.write(b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n{")
        status, _ = await response_of(reader)
        assert status == 413
        assert await closed_within(reader, 3.0) is closed
        writer.close()

"""harombe's HTTP/1.1 client for streamed answers: the parser fed by hand (split at every byte,
hostile answers), and the client against real servers on loopback (keep-alive, stale pooled
connections, failures, TLS)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web
from support.tls_certs import TestCA

from harombe.inference import http1
from harombe.inference.http1 import (
    CannotConnect,
    Connection,
    ConnectionLost,
    HttpClient,
    MalformedResponse,
    Url,
)
from harombe.inference.http1 import client as http_client
from harombe.inference.http1 import connection as http_connection

CHUNKED_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)


class Transport(asyncio.Transport):
    """What a `Connection` asks of its transport, recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.closed = False
        self.paused = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False


def connection(max_head: int = http1.MAX_HEAD_BYTES) -> tuple[Connection, Transport]:
    conn, transport = Connection(max_head), Transport()
    conn.connection_made(transport)
    conn.send(b"GET / HTTP/1.1\r\n\r\n")
    return conn, transport


def feed(conn: Connection, data: bytes, step: int) -> bytes:
    """`data` fed `step` bytes at a time; the body taken as it came."""
    body = b""
    for i in range(0, len(data), step):
        conn.data_received(data[i : i + step])
        body += conn.take()
    return body


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


@pytest.mark.parametrize("step", [1, 2, 3, 7, 1000])
def test_a_chunked_answer_split_anywhere_reads_the_same(step: int) -> None:
    body = chunked(b"data: one\n\n", b"data: " + b"x" * 300 + b"\n\n", b"data: [DONE]\n\n")
    conn, _ = connection()
    with_trailer = body.replace(b"0\r\n\r\n", b"0;ext=1\r\nTrailer: t\r\n\r\n")
    got = feed(conn, CHUNKED_HEAD + with_trailer, step)
    assert got == b"data: one\n\n" + b"data: " + b"x" * 300 + b"\n\n" + b"data: [DONE]\n\n"
    assert conn.head is not None and conn.head[0] == 200
    assert conn.head[1]["content-type"] == "text/event-stream"
    assert conn.body_done and conn.reusable()


@pytest.mark.parametrize("step", [1, 5, 1000])
def test_a_content_length_answer_ends_at_its_length(step: int) -> None:
    conn, _ = connection()
    got = feed(conn, b'HTTP/1.1 404 Not Found\r\nContent-Length: 12\r\n\r\n{"error":"x"}', step)
    assert got == b'{"error":"x"'  # the 13th byte is past the length: not body, not reused
    assert conn.head is not None and conn.head[0] == 404
    assert conn.body_done and not conn.reusable()


def test_an_answer_without_length_ends_with_the_connection_and_is_not_reused() -> None:
    conn, _ = connection()
    conn.data_received(b"HTTP/1.1 200 OK\r\n\r\npart one, ")
    conn.data_received(b"part two")
    assert not conn.body_done
    conn.connection_lost(None)
    assert conn.take() == b"part one, part two"
    assert conn.body_done and not conn.reusable()


def test_an_interim_100_continue_is_skipped() -> None:
    conn, _ = connection()
    conn.data_received(b"HTTP/1.1 100 Continue\r\n\r\n")
    conn.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    assert conn.head is not None and conn.head[0] == 200 and conn.take() == b"ok"


BOTH_FRAMINGS = (
    b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
)


@pytest.mark.parametrize(
    ("head", "keep"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", True),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", False),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", False),
        (b"HTTP/1.1 204 No Content\r\n\r\n", True),
        # both framings: the length is ignored, the connection not trusted again
        (BOTH_FRAMINGS, False),
    ],
)
def test_keep_alive_is_what_the_server_said(head: bytes, keep: bool) -> None:
    conn, _ = connection()
    conn.data_received(head)
    assert conn.body_done and conn.reusable() is keep


HOSTILE = {
    "not HTTP": b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
    "a status of two digits": b"HTTP/1.1 20 OK\r\n\r\n",
    "a header line without a colon": b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
    "a header name with a space": b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
    "two different lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    "a negative length": b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    "a length of 19 digits": b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000000000\r\n\r\n",
    "gzip as the last encoding": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    "gzip, then chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    "a superscript digit as the length": b"HTTP/1.1 200 OK\r\nContent-Length: \xb9\r\n\r\nx",
    "a negative chunk size": CHUNKED_HEAD + b"-1\r\n",
    "a 0x chunk size": CHUNKED_HEAD + b"0x5\r\nhello\r\n",
    "an underscored chunk size": CHUNKED_HEAD + b"1_0\r\n",
    "a chunk size of 17 digits": CHUNKED_HEAD + b"1" * 17 + b"\r\n",
    "an empty chunk size": CHUNKED_HEAD + b"\r\n",
    "chunk data longer than its size": CHUNKED_HEAD + b"2\r\nabc\r\n",
    "an endless chunk-size line": CHUNKED_HEAD + b"a" * (http_connection.MAX_CHUNK_LINE_BYTES + 2),
    "a head over the limit": b"HTTP/1.1 200 OK\r\nX: " + b"y" * 2000,
}


@pytest.mark.parametrize("answer", HOSTILE.values(), ids=HOSTILE.keys())
async def test_a_malformed_answer_fails_and_closes_the_connection(answer: bytes) -> None:
    conn, transport = connection(max_head=1024)
    conn.data_received(answer)
    assert transport.closed and not conn.reusable()
    with pytest.raises(MalformedResponse):
        await conn.wait()


async def test_reading_pauses_while_the_reader_is_behind_and_resumes_when_it_takes() -> None:
    conn, transport = connection()
    piece = b"z" * 100_000
    conn.data_received(CHUNKED_HEAD)
    for _ in range(3):
        conn.data_received(b"%x\r\n%s\r\n" % (len(piece), piece))
    assert transport.paused  # 300,000 bytes waiting: over HIGH_WATER_BYTES
    assert len(conn.take()) == 300_000 and not transport.paused


def test_a_connection_with_body_left_unread_or_reading_paused_is_not_reused() -> None:
    conn, _ = connection()
    conn.data_received(CHUNKED_HEAD + chunked(b"first", b"second"))
    assert conn.body_done and not conn.reusable()  # the reader stopped before taking it all
    assert conn.take() == b"firstsecond" and conn.reusable()

    conn, transport = connection()
    conn.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n" + b"z" * 300_000)
    assert conn.body_done and transport.paused and not conn.reusable()


def test_a_reset_ends_a_body_read_to_the_connections_end_as_a_failure() -> None:
    conn, _ = connection()
    conn.data_received(b"HTTP/1.1 200 OK\r\n\r\npartial")
    conn.connection_lost(ConnectionResetError())
    assert not conn.body_done and conn.take() == b"partial"


def test_bytes_on_an_idle_connection_close_it() -> None:
    conn, transport = connection()
    conn.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert conn.reusable()
    conn.data_received(b"HTTP/1.1 200 OK\r\n")  # nobody asked
    assert transport.closed and not conn.reusable()


def test_urls_and_headers_that_cannot_be_sent_are_refused_before_sending() -> None:
    assert Url.parse("http://[::1]:8080/v1") == Url("http", "::1", 8080)
    assert Url.parse("https://example.org").port == 443
    assert Url.parse("http://[::1]:8080").authority == "[::1]:8080"
    with pytest.raises(ValueError, match="expected http"):
        Url.parse("ftp://host:21")
    utf8 = http_client._request_bytes(
        "GET", Url("http", "h", 1), "/", {"X-Node": "Küche"}, b"", "h"
    )
    assert "X-Node: Küche".encode() in utf8  # as aiohttp on the other side reads it
    with pytest.raises(ValueError, match="line break"):
        http_client._request_bytes(
            "GET", Url("http", "h", 1), "/", {"X-Key": "a\r\nEvil: 1"}, b"", "harombe"
        )


# ---- against real servers on loopback ---------------------------------------------------

Handle = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(
    handle: Handle,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[tuple[Url, list[int]]]:
    """A TCP server on loopback running `handle` per connection; yields its URL and a list
    that counts the connections it accepted."""
    accepted: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        try:
            await handle(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=ssl_context)
    port = server.sockets[0].getsockname()[1]
    try:
        yield Url("https" if ssl_context else "http", "127.0.0.1", port), accepted
    finally:
        server.close()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    length = next(int(line.split(b":")[1]) for line in lines if line.startswith(b"content-length"))
    return head + await reader.readexactly(length)


def answering(answer: bytes) -> Handle:
    """A kept-alive connection's server: `answer` to every request until the client closes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            writer.write(answer)
            await writer.drain()

    return handle


async def body_of(client: HttpClient, url: Url, target: str = "/") -> tuple[int, bytes]:
    async with client.request("POST", url, target, body=b"{}") as response:
        return response.status, b"".join([piece async for piece in response.body()])


async def test_a_kept_alive_connection_serves_the_next_request() -> None:
    client = HttpClient(connect_timeout=5)
    async with raw_server(answering(CHUNKED_HEAD + chunked(b"hello"))) as (url, accepted):
        assert await body_of(client, url) == (200, b"hello")
        assert await body_of(client, url) == (200, b"hello")
        assert len(accepted) == 1
        await client.aclose()
        with pytest.raises(http1.HttpClientError, match="closed"):
            await body_of(client, url)


async def test_an_answer_left_unread_never_reaches_the_next_request() -> None:
    """A client that goes away mid-answer after the rest of the answer has arrived: that rest
    must not be read as the start of the next request's answer."""
    first_read = asyncio.Event()

    async def in_two_parts(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            writer.write(CHUNKED_HEAD + b"6\r\nfirst \r\n")
            await first_read.wait()
            writer.write(chunked(b"rest of the answer"))
            await writer.drain()

    client = HttpClient(connect_timeout=5)
    async with raw_server(in_two_parts) as (url, accepted):
        async with client.request("POST", url, "/", body=b"{}") as response:
            assert await anext(aiter(response.body())) == b"first "
            first_read.set()
            async with asyncio.timeout(10):  # the rest arrives; the reader never takes it
                while not response._conn.body_done:
                    await response._conn.wait()
        assert await body_of(client, url) == (200, b"first rest of the answer")
        assert len(accepted) == 2  # the first connection was closed, not pooled
    await client.aclose()


async def test_a_pooled_connection_the_server_closed_silently_is_replaced() -> None:
    """llama.cpp's server closes the connection after each streamed answer without saying so."""

    async def one_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(CHUNKED_HEAD + chunked(b"fresh"))
        await writer.drain()

    client = HttpClient(connect_timeout=5)
    async with raw_server(one_answer) as (url, accepted):
        for _ in range(3):
            assert await body_of(client, url) == (200, b"fresh")
        assert len(accepted) == 3
    await client.aclose()


async def test_a_connection_lost_mid_answer_fails_the_read() -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(CHUNKED_HEAD + b"5\r\nhel")
        await writer.drain()

    client = HttpClient(connect_timeout=5)
    async with raw_server(cut) as (url, _):
        with pytest.raises(ConnectionLost, match="mid-response"):
            await body_of(client, url)
    await client.aclose()


async def test_a_server_that_answers_nothing_is_a_lost_connection_on_a_fresh_one() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)

    client = HttpClient(connect_timeout=5)
    async with raw_server(hang_up) as (url, accepted):
        with pytest.raises(ConnectionLost, match="before answering"):
            await body_of(client, url)
        assert len(accepted) == 1  # a fresh connection's failure is not retried
    await client.aclose()


async def test_nothing_listening_is_cannot_connect() -> None:
    async with raw_server(read_request) as (url, _):
        pass  # closed: nothing listens on its port now
    client = HttpClient(connect_timeout=5)
    with pytest.raises(CannotConnect) as failed:
        await body_of(client, url)
    assert isinstance(failed.value.os_error, ConnectionRefusedError)


async def test_a_tls_handshake_that_never_ends_times_out_connecting() -> None:
    hung_up = asyncio.Event()

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes
        hung_up.set()

    client = HttpClient(connect_timeout=0.2)
    async with raw_server(never_answer) as (url, _):
        with pytest.raises(TimeoutError):
            await body_of(client, Url("https", url.host, url.port))
        async with asyncio.timeout(10):
            await hung_up.wait()


async def test_an_abandoned_answer_closes_its_connection_and_an_error_body_is_bounded() -> None:
    endless = b"HTTP/1.1 500 Oops\r\nContent-Length: 1000000\r\n\r\n" + b"e" * 100_000
    client = HttpClient(connect_timeout=5)
    async with raw_server(answering(endless)) as (url, accepted):
        for _ in range(2):
            async with client.request("GET", url, "/") as response:
                assert response.status == 500
                assert await response.read(1000) == b"e" * 1000
        assert len(accepted) == 2  # the first connection was not reused mid-body
    await client.aclose()


async def test_idle_connections_are_bounded_and_closed_after_the_keep_alive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(http_client, "MAX_IDLE_PER_HOST", 2)
    client = HttpClient(connect_timeout=5)
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    async with raw_server(answering(ok)) as (url, accepted):
        assert await asyncio.gather(*(body_of(client, url) for _ in range(4))) == [(200, b"ok")] * 4
        assert len(accepted) == 4 and len(client._idle[url]) == 2
        monkeypatch.setattr(http_client, "KEEPALIVE_S", 0.0)
        client._close_stale()
        assert url not in client._idle
    await client.aclose()


async def test_https_with_the_cluster_ca_and_a_client_certificate(tmp_path: Path) -> None:
    ca = TestCA(tmp_path)
    server_files, client_files = ca.issue("server"), ca.issue("client")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(server_files.cert, server_files.key)
    server_context.load_verify_locations(ca.ca_path)
    server_context.verify_mode = ssl.CERT_REQUIRED

    async def handle(request: web.Request) -> web.Response:
        return web.Response(text=f"{request.method} {request.path} {await request.text()}")

    app = web.Application()
    app.router.add_post("/echo", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    client_context = ssl.create_default_context(cafile=ca.ca_path)
    client_context.load_cert_chain(client_files.cert, client_files.key)
    client = HttpClient(connect_timeout=5, ssl_context=client_context)
    try:
        url = Url("https", "127.0.0.1", port)
        assert await body_of(client, url, "/echo") == (200, b"POST /echo {}")
        with pytest.raises(CannotConnect):  # the system CAs do not know the cluster's
            await body_of(HttpClient(connect_timeout=5), url, "/echo")
    finally:
        await client.aclose()
        await runner.cleanup()

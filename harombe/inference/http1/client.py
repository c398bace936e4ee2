"""Requests over pooled keep-alive connections (`connection.Connection`): `HttpClient`.

`HttpClient.request` is an async context manager giving a `Response`; iterate
`Response.body()` for the body's bytes, or read it whole up to a limit. A connection goes back
to the pool only when its response was read to the end and the server keeps it open. Idle
connections are bounded by `MAX_IDLE_PER_HOST` and `KEEPALIVE_S`; connections in use are as
many as the answers in flight, which routing bounds. Silences are bounded by the caller
(routing's `first_token_timeout` and `chunk_timeout`), connecting by `connect_timeout`.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field

import yarl

from harombe import __version__
from harombe.inference.http1.connection import (
    MAX_HEAD_BYTES,
    TOKEN,
    CannotConnect,
    Connection,
    ConnectionLost,
    HttpClientError,
)

KEEPALIVE_S = 15.0
"""Seconds an idle pooled connection is kept (aiohttp's default keep-alive too)."""
MAX_IDLE_PER_HOST = 32
STALE_RETRIES = 2
"""Pooled connections found closed, before one request gets through on a fresh one."""
MAX_ERROR_BYTES = 64 * 1024
"""The most of an error answer's body read for its message (`Response.text`)."""


@dataclass(frozen=True)
class Url:
    """Where requests go: a server's scheme, host and port, parsed once."""

    scheme: str
    host: str
    port: int

    @classmethod
    def parse(cls, base_url: str) -> Url:
        url = yarl.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host or url.port is None:
            raise ValueError(f"{base_url!r}: expected http://host:port or https://host:port")
        return cls(url.scheme, url.host, url.port)

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass
class Response:
    """A response whose head has arrived: `status`, `headers` (names lower-cased)."""

    status: int
    headers: dict[str, str]
    _conn: Connection = field(repr=False)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    async def body(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive, joined per read; ConnectionLost when the server
        closes the connection before the body's end."""
        conn = self._conn
        while True:
            piece = conn.take()
            if piece:
                yield piece
            elif conn.body_done:
                return
            else:
                await conn.wait()

    async def read(self, limit: int) -> bytes:
        """The body, at most `limit` bytes of it (the rest is dropped with the connection)."""
        parts: list[bytes] = []
        size = 0
        async with aclosing(self.body()) as pieces:
            async for piece in pieces:
                parts.append(piece)
                size += len(piece)
                if size >= limit:
                    break
        return b"".join(parts)[:limit]

    async def text(self, limit: int = MAX_ERROR_BYTES) -> str:
        """The body as text, at most `limit` bytes of it: an error answer's message."""
        return (await self.read(limit)).decode("utf-8", "replace")


class Exchange:
    """One request's `async with`: the response on entry; on exit its connection goes back to
    the pool (read to the end, kept alive) or is closed."""

    __slots__ = ("_client", "_conn", "_data", "_url")

    def __init__(self, client: HttpClient, url: Url, data: bytes) -> None:
        self._client = client
        self._url = url
        self._data = data
        self._conn: Connection | None = None

    async def __aenter__(self) -> Response:
        conn = self._conn = await self._client.send(self._url, self._data)
        assert conn.head is not None
        status, headers, _ = conn.head
        return Response(status, headers, conn)

    async def __aexit__(self, *exc_info: object) -> None:
        if self._conn is not None:
            self._client.release(self._url, self._conn)


class HttpClient:
    """Requests to HTTP/1.1 servers over pooled keep-alive connections.

    `connect_timeout` bounds opening a connection (TLS handshake included); `ssl_context` is
    used for https (the system's default context without one); `max_head_bytes` caps a
    response head. Not thread-safe: one client per event loop. `aclose` closes the idle
    connections; connections in use close as their responses end.
    """

    def __init__(
        self,
        *,
        connect_timeout: float,
        ssl_context: ssl.SSLContext | None = None,
        max_head_bytes: int = MAX_HEAD_BYTES,
        user_agent: str = f"harombe/{__version__}",
    ) -> None:
        self._connect_timeout = connect_timeout
        self._ssl_context = ssl_context
        self._max_head = max_head_bytes
        self._user_agent = user_agent
        self._idle: dict[Url, list[Connection]] = {}
        self._sweep: asyncio.TimerHandle | None = None
        self.closed = False

    def request(
        self,
        method: str,
        url: Url,
        target: str,
        *,
        headers: Mapping[str, str] = {},
        body: bytes = b"",
    ) -> Exchange:
        """`async with` it for the response to `method target` sent to `url`, once its head
        came back. A pooled connection lost before any byte of the response came back is
        replaced by a fresh one, `STALE_RETRIES` times: the server closed it as it was taken
        (llama.cpp's server closes one after each streamed answer). A server that read the
        request and then closed the connection without a byte is sent it again that way."""
        data = _request_bytes(method, url, target, headers, body, self._user_agent)
        return Exchange(self, url, data)

    async def send(self, url: Url, data: bytes) -> Connection:
        """The connection `data` went out on, once the response head came back; `release` it
        when done."""
        if self.closed:
            raise HttpClientError("the HTTP client is closed")
        for _ in range(STALE_RETRIES):
            conn = self._pooled(url)
            if conn is None:
                break
            try:
                return await _exchange(conn, data)
            except ConnectionLost:
                if conn.received:
                    raise
        return await _exchange(await self._connect(url), data)

    async def aclose(self) -> None:
        self.closed = True
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()

    async def _connect(self, url: Url) -> Connection:
        loop = asyncio.get_running_loop()
        context = None
        if url.scheme == "https":
            context = self._ssl_context or ssl.create_default_context()
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: Connection(self._max_head),
                    url.host,
                    url.port,
                    ssl=context,
                    server_hostname=url.host if context else None,
                )
        except TimeoutError:
            raise
        except OSError as exc:  # ssl.SSLError is one too
            raise CannotConnect(exc) from exc
        return conn

    def _pooled(self, url: Url) -> Connection | None:
        conns = self._idle.get(url)
        while conns:
            conn = conns.pop()
            if not conn.closed:
                return conn
        return None

    def release(self, url: Url, conn: Connection) -> None:
        if not conn.reusable() or self.closed:
            conn.close()
            return
        conns = self._idle.setdefault(url, [])
        if len(conns) >= MAX_IDLE_PER_HOST:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        conns.append(conn)
        if self._sweep is None:
            self._sweep = asyncio.get_running_loop().call_later(KEEPALIVE_S, self._close_stale)

    def _close_stale(self) -> None:
        """Close the connections idle for `KEEPALIVE_S`; look again while any are pooled."""
        self._sweep = None
        cutoff = time.monotonic() - KEEPALIVE_S
        for url, conns in list(self._idle.items()):
            keep = []
            for conn in conns:
                if conn.closed or conn.idle_since <= cutoff:
                    conn.close()
                else:
                    keep.append(conn)
            if keep:
                self._idle[url] = keep
            else:
                del self._idle[url]
        if self._idle:
            self._sweep = asyncio.get_running_loop().call_later(KEEPALIVE_S, self._close_stale)


async def _exchange(conn: Connection, data: bytes) -> Connection:
    """Send `data` on `conn` and wait for the response head (the connection is closed if that
    fails)."""
    conn.send(data)
    try:
        while conn.head is None:
            await conn.wait()
    except BaseException:
        conn.close()
        raise
    return conn


def _request_bytes(
    method: str,
    url: Url,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    user_agent: str,
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {url.authority}", f"User-Agent: {user_agent}"]
    for name, value in headers.items():
        if not TOKEN.fullmatch(name) or "\r" in value or "\n" in value:
            raise ValueError(f"header {name!r} cannot be sent: a line break or invalid name")
        lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body  # UTF-8, as aiohttp reads it

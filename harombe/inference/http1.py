"""A small HTTP/1.1 client for streamed answers: a backend's chat stream and a peer's frames.

aiohttp's client spends about a tenth of a peer's CPU per routed request on its request and
response objects, the connector, a body-writer task and its stream reader's flow control
(docs/performance.md). This client does what a streamed answer needs and no more: the request
written in one `write`, the response head parsed once, the body handed over as it arrives
(each read's worth, de-chunked), and keep-alive connections pooled per host. Everything a
server can make it hold is bounded: the head by `max_head_bytes`, a chunk-size line by
`MAX_CHUNK_LINE_BYTES`, the body read ahead of its reader by `HIGH_WATER_BYTES` (reading
pauses), an error body by the caller's limit, idle connections by `MAX_IDLE_PER_HOST` and
`KEEPALIVE_S`; connections in use are as many as the answers in flight, which routing bounds.
Silences are bounded by the caller (routing's `first_token_timeout` and `chunk_timeout`),
connecting by `connect_timeout`.

`HttpClient.request` is an async context manager giving a `Response`; iterate
`Response.body()` for the body's bytes, or `await Response.read(limit)`. A connection goes back
to the pool only when its response was read to the end and the server keeps it open.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

import yarl

from harombe import __version__

MAX_HEAD_BYTES = 64 * 1024
MAX_CHUNK_LINE_BYTES = 1024
HIGH_WATER_BYTES = 256 * 1024
KEEPALIVE_S = 15.0
"""Seconds an idle pooled connection is kept (aiohttp's default keep-alive too)."""
MAX_IDLE_PER_HOST = 32
STALE_RETRIES = 2
"""Pooled connections found closed, before one request gets through on a fresh one."""

_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_STATUS = re.compile(rb"HTTP/1\.([01]) ([1-9][0-9][0-9])(?: .*)?")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class HttpClientError(Exception):
    """The exchange failed below HTTP: no connection, a connection lost, a malformed answer."""


class CannotConnect(HttpClientError):
    def __init__(self, os_error: OSError) -> None:
        super().__init__(str(os_error))
        self.os_error = os_error


class ConnectionLost(HttpClientError):
    """The server closed the connection before its response was complete."""


class MalformedResponse(HttpClientError):
    """What the server sent is not HTTP/1.1 as this client reads it, or is over a limit."""


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
        conn = self._conn
        parts: list[bytes] = []
        size = 0
        while size < limit:
            piece = conn.take()
            if piece:
                parts.append(piece)
                size += len(piece)
            elif conn.body_done:
                break
            else:
                await conn.wait()
        return b"".join(parts)[:limit]


class Connection(asyncio.Protocol):
    """One connection's protocol: parses a response head, then its body (by length, chunked,
    or up to the connection's end) into `take`-able bytes. Sans timers: waiting is the
    caller's."""

    def __init__(self, max_head_bytes: int) -> None:
        self._max_head = max_head_bytes
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.received = False  # whether any byte of the current response came
        self._rest = b""  # body bytes received, not parsed yet (a line not complete)
        self._head_part = bytearray()  # the start of a head split over reads
        self._scanned = 0  # how far `_head_part` was searched for the head's end
        self._pieces: list[bytes] = []
        self._buffered = 0
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._failure: HttpClientError | None = None
        self.head: tuple[int, dict[str, str], bool] | None = None  # status, headers, reusable
        self._mode = ""  # "length" | "chunked" | "eof" once the head is read
        self._left = 0  # bytes left of the body (length) or of the current chunk (chunked)
        self._chunk_state = "size"  # the next line: "size" | "data-end" | "trailer"
        self.body_done = False

    # ---- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.head is not None and self._mode == "eof" and not self.body_done and exc is None:
            self.body_done = True  # a body read up to the connection's (orderly) end is complete
        elif not self.body_done and self._failure is None:
            self._failure = ConnectionLost(
                "the server closed the connection mid-response"
                if self.received
                else "the server closed the connection before answering"
            )
        self._wake()

    def data_received(self, data: bytes) -> None:
        if self.body_done:  # bytes nobody asked for, on an idle connection: not reused
            self.close()
            return
        self.received = True
        try:
            self._parse(data)
        except (MalformedResponse, ValueError) as exc:  # int() of a hostile number, say
            self._failure = exc if isinstance(exc, MalformedResponse) else MalformedResponse(exc)
            self.close()
        if self._buffered > HIGH_WATER_BYTES and not self._paused and self.transport:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        return False  # close the transport; `connection_lost` says what it ended

    # ---- the exchange --------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Start an exchange: `data` (the whole request) written, the response state reset."""
        assert self.transport is not None and not self._pieces and not self._paused
        self.received = False
        self.head = None
        self._mode, self._chunk_state, self.body_done = "", "size", False
        self._rest, self._head_part, self._scanned = b"", bytearray(), 0
        self._left, self._failure = 0, None
        self.transport.write(data)

    async def wait(self) -> None:
        """Until more of the response arrives or it fails (raised here)."""
        if self._failure is not None:
            raise self._failure
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None
        if self._failure is not None and not self._pieces:
            raise self._failure

    def take(self) -> bytes:
        """The body bytes received since the last `take`."""
        pieces = self._pieces
        if not pieces:
            return b""
        self._pieces = []
        self._buffered = 0
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def reusable(self) -> bool:
        return (
            not self.closed
            and self.body_done
            and self.head is not None
            and self.head[2]
            and not self._rest
            and not self._pieces  # the reader stopped before the end: not for the next one
            and not self._paused
        )

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # ---- parsing -------------------------------------------------------------------------

    def _parse(self, data: bytes) -> None:
        if self.head is None:
            data = self._parse_head(data)
            if self.head is None:
                return
        elif self._rest:
            data = self._rest + data  # at most a chunk-size line's start
        if self._mode == "chunked":
            data = self._parse_chunked(data)
        elif self._mode == "length":
            take = data[: self._left]
            self._left -= len(take)
            self._keep(take)
            data = data[len(take) :]
            self.body_done = self._left == 0
        else:
            self._keep(data)
            data = b""
        self._rest = data  # left over after the end: the connection is not reused

    def _parse_head(self, data: bytes) -> bytes:
        """Parse the response head if `data` completes it; the bytes after it. A head split
        over reads is gathered in `_head_part`, searched from where the last search stopped."""
        buffer: bytes | bytearray = data
        start = 0
        if self._head_part:
            self._head_part += data
            buffer, start = self._head_part, self._scanned
        while True:
            end = buffer.find(b"\r\n\r\n", start, self._max_head + 4)
            if end < 0:
                if len(buffer) > self._max_head:
                    raise MalformedResponse(f"response head over {self._max_head} bytes")
                if buffer is not self._head_part:
                    self._head_part = bytearray(buffer)
                self._scanned = max(0, len(buffer) - 3)
                return b""
            lines = bytes(buffer[:end]).split(b"\r\n")
            buffer, start = buffer[end + 4 :], 0
            status_line = _STATUS.fullmatch(lines[0])
            if status_line is None:
                raise MalformedResponse(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
            status = int(status_line.group(2))
            if 100 <= status < 200:
                continue  # an interim response (100 Continue): the real one follows
            headers = _headers(lines[1:])
            keep_alive = (
                status_line.group(1) == b"1"
                and "close" not in headers.get("connection", "").lower()
                # both: the length is ignored (RFC 9112, 6.3), the connection not trusted again
                and not ("transfer-encoding" in headers and "content-length" in headers)
            )
            self._start_body(status, headers)
            self.head = (status, headers, keep_alive and self._mode != "eof")
            self._head_part = bytearray()
            return bytes(buffer)

    def _start_body(self, status: int, headers: dict[str, str]) -> None:
        encoding = headers.get("transfer-encoding", "").lower()
        if status in (204, 304):
            self._mode, self.body_done = "length", True
        elif encoding:
            if encoding != "chunked":  # nothing else was asked for
                raise MalformedResponse(f"unsupported transfer-encoding {encoding[:40]!r}")
            self._mode = "chunked"
        elif "content-length" in headers:
            length = headers["content-length"]
            if not (length.isascii() and length.isdigit()) or len(length) > 18:
                raise MalformedResponse(f"invalid content-length {length[:40]!r}")
            self._mode, self._left = "length", int(length)
            self.body_done = self._left == 0
        else:
            self._mode = "eof"

    def _parse_chunked(self, data: bytes) -> bytes:
        """The chunks' data cut from `data`; returns what is left (a line not complete yet)."""
        start, size = 0, len(data)
        while not self.body_done:
            if self._left:  # inside a chunk's data
                end = min(size, start + self._left)
                if end == start:
                    break
                self._pieces.append(data[start:end])
                self._buffered += end - start
                self._left -= end - start
                start = end
                if self._left:
                    break
            if self._chunk_state == "data-end":
                if size - start < 2:
                    break
                if data[start : start + 2] != b"\r\n":
                    raise MalformedResponse("chunk data longer than its size")
                start += 2
                self._chunk_state = "size"
            line_end = data.find(b"\r\n", start, start + MAX_CHUNK_LINE_BYTES + 2)
            if line_end < 0:
                if size - start > MAX_CHUNK_LINE_BYTES + 1:
                    raise MalformedResponse("a chunk-size or trailer line is too long")
                break
            line = data[start:line_end]
            start = line_end + 2
            if self._chunk_state == "size":
                if 0 < len(line) <= 16 and _HEX_DIGITS.issuperset(line):
                    self._left = int(line, 16)  # nearly every line: no extension
                else:
                    self._left = _chunk_size(line)
                self._chunk_state = "data-end" if self._left else "trailer"
            elif not line:  # the blank line ending the trailer
                self.body_done = True
        return data[start:]

    def _keep(self, piece: bytes) -> None:
        if piece:
            self._pieces.append(piece)
            self._buffered += len(piece)


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


def _headers(lines: list[bytes]) -> dict[str, str]:
    """Header lines as a dict, names lower-cased; MalformedResponse on a malformed line or
    conflicting framing headers."""
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(b":")
        key = name.decode("latin-1").lower()
        if not colon or not _TOKEN.fullmatch(key):
            raise MalformedResponse(f"malformed header line: {line[:80]!r}")
        text = value.strip().decode("latin-1")
        if key in headers and key in ("content-length", "transfer-encoding"):
            if headers[key] != text:
                raise MalformedResponse(f"conflicting {key} headers")
        headers[key] = text
    return headers


def _chunk_size(line: bytes) -> int:
    digits = line.split(b";", 1)[0].strip()
    if not 0 < len(digits) <= 16 or not _HEX_DIGITS.issuperset(digits):
        raise MalformedResponse(f"invalid chunk size {line[:40]!r}")
    return int(digits, 16)


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
        if not _TOKEN.fullmatch(name) or "\r" in value or "\n" in value:
            raise ValueError(f"header {name!r} cannot be sent: a line break or invalid name")
        lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body  # UTF-8, as aiohttp reads it

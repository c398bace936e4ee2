"""One HTTP/1.1 connection's side of an exchange, as an asyncio protocol: the response head
parsed once, the body (by length, chunked, or up to the connection's end) cut from each read and
handed to its reader, reading paused while the reader is behind. Everything a server can make
it hold is bounded: the head by `max_head_bytes`, a chunk-size line by `MAX_CHUNK_LINE_BYTES`,
the body read ahead of its reader by `HIGH_WATER_BYTES`. Anything else it is sent fails the
exchange with `MalformedResponse` and closes the connection.
"""

from __future__ import annotations

import asyncio
import re

MAX_HEAD_BYTES = 64 * 1024
MAX_CHUNK_LINE_BYTES = 1024
HIGH_WATER_BYTES = 256 * 1024

_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_STATUS = re.compile(rb"HTTP/1\.([01]) ([1-9][0-9][0-9])(?: .*)?")
TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""A header name (RFC 9110's token)."""


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
                self._keep(data[start:end])
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


def _headers(lines: list[bytes]) -> dict[str, str]:
    """Header lines as a dict, names lower-cased; MalformedResponse on a malformed line or
    conflicting framing headers."""
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(b":")
        key = name.decode("latin-1").lower()
        if not colon or not TOKEN.fullmatch(key):
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

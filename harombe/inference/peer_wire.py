"""harombe's own format for a request one peer forwards to another (`POST /cluster/forward`).

The request body is the internal `ChatRequest` and the answer a stream of the internal
`ChatChunk`s, both encoded with msgspec's msgpack: the dataclasses in `inference.types` *are*
the wire format, so every field (tool calls with ids, finish reason, usage, fields added
later) travels without per-field code and nothing is re-derived on the other side.

The answer is a sequence of frames, each a 4-byte big-endian length then one msgpack `Frame`:
either a chunk or a typed error (`status`, `message`, `retryable`) sent in-band, after which the
stream ends. Length-prefixed frames are cut from the bytes as they arrive (`FrameReader`) with
no scanning for separators; msgpack cannot contain an unescaped length field the way NDJSON must
escape newlines.

Versions (`VERSION_HEADER`): a peer speaks `PROTOCOL_VERSION` and accepts requests from one
version back. Adding a field with a default keeps the version: msgspec skips fields it does not
know and fills in defaults for fields it did not get, so old and new peers understand each
other. Only a change that breaks that (a field removed, renamed or retyped) bumps the version;
a request outside the accepted range is answered with an error frame (HTTP 400) naming both.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import msgspec

from harombe.inference.types import BackendError, ChatChunk, ChatRequest

HOP_HEADER = "X-Harombe-Hop"
"""Marks a request forwarded by a peer (its value: the sender's name): served locally, never
routed again, so requests cannot loop; signed when the cluster has a key."""
SPONSORED_HEADER = "X-Harombe-Sponsored"
"""On a forwarded (hop) request: the plain server the receiving sponsor is to serve it with
(harombe/sponsored.py); covered by the request's signature."""
VERSION_HEADER = "X-Harombe-Forward-Version"
FORWARD_PATH = "/cluster/forward"
CONTENT_TYPE = "application/vnd.harombe.forward+msgpack"
PROTOCOL_VERSION = 1
OLDEST_ACCEPTED_VERSION = max(1, PROTOCOL_VERSION - 1)

_LENGTH = struct.Struct(">I")


@dataclass
class ForwardError:
    """A failure reported in-band: `retryable` says whether another node could still succeed."""

    status: int
    message: str
    retryable: bool

    @classmethod
    def of(cls, exc: BackendError) -> ForwardError:
        return cls(status=exc.status, message=str(exc), retryable=exc.retryable)


class Frame(msgspec.Struct, array_like=True, omit_defaults=True):
    chunk: ChatChunk | None = None
    error: ForwardError | None = None


_encoder = msgspec.msgpack.Encoder()
_request_decoder = msgspec.msgpack.Decoder(ChatRequest)
_frame_decoder = msgspec.msgpack.Decoder(Frame)


class WireError(ValueError):
    """Bytes that are not a valid request or frame of this protocol."""


def encode_request(request: ChatRequest) -> bytes:
    return _encoder.encode(request)


def decode_request(data: bytes) -> ChatRequest:
    try:
        return _request_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise WireError(f"not a forwarded chat request: {exc}") from None


def chunk_frame(chunk: ChatChunk) -> bytes:
    return _framed(_encoder.encode(Frame(chunk=chunk)))


def error_frame(error: ForwardError) -> bytes:
    return _framed(_encoder.encode(Frame(error=error)))


def _framed(payload: bytes) -> bytes:
    return _LENGTH.pack(len(payload)) + payload


HEADER_BYTES = _LENGTH.size


def decode_frame(data: bytes) -> Frame:
    try:
        frame = _frame_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise WireError(f"malformed frame: {exc}") from None
    if (frame.chunk is None) == (frame.error is None):
        raise WireError("a frame carries exactly one of a chunk or an error")
    return frame


class FrameReader:
    """The frames of an answer from its bytes as they arrive, however they are split: `feed`
    returns the frames completed so far. WireError on a frame longer than `max_frame_bytes`
    (said by its length, before its bytes are awaited) or not decodable."""

    def __init__(self, max_frame_bytes: int) -> None:
        self._max_frame_bytes = max_frame_bytes
        self._rest = bytearray()  # the start of a frame not complete yet

    @property
    def cut_short(self) -> bool:
        """Whether the start of a frame is held: at the stream's end, that frame was cut."""
        return bool(self._rest)

    def feed(self, data: bytes) -> list[Frame]:
        buffer: bytes | bytearray = data
        if self._rest:
            self._rest += data
            buffer = self._rest
        frames: list[Frame] = []
        start, size = 0, len(buffer)
        while size - start >= HEADER_BYTES:
            (length,) = _LENGTH.unpack_from(buffer, start)
            if length > self._max_frame_bytes:
                raise WireError(f"a frame of {length}B exceeds {self._max_frame_bytes}B")
            end = start + HEADER_BYTES + length
            if end > size:
                break
            frames.append(decode_frame(buffer[start + HEADER_BYTES : end]))
            start = end
        if buffer is self._rest:
            del self._rest[:start]
        elif start < size:
            self._rest += buffer[start:]
        return frames


def version_problem(header: str | None) -> str | None:
    """None when a request of this version is understood, else why not."""
    try:
        version = int(header or "")
    except ValueError:
        return f"missing or malformed {VERSION_HEADER}: {header!r}"
    if not OLDEST_ACCEPTED_VERSION <= version <= PROTOCOL_VERSION:
        return (
            f"forwarding protocol version {version} is not supported here "
            f"(this peer speaks {OLDEST_ACCEPTED_VERSION}..{PROTOCOL_VERSION})"
        )
    return None

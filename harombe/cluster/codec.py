"""Frames on the wire: envelope, cluster label, protocol version, HMAC and replay checks.

    frame   = msgpack [version, label, payload: bin, mac: bin | nil]
    payload = msgpack [sender, sender_addr, generation, seq, wall_ts, [message, ...]]

The size is checked before anything is decoded; version and label before authentication;
with a keyring the MAC (HMAC-SHA256 over version, label and payload, made with the first key,
checked against every key for rotation) before the payload is decoded, every message validated
as part of that one decode (harombe.cluster.messages); then the replay check. Any failure
raises FrameError with the reason counted in MembershipStats.dropped.

Nesting: msgspec decodes nested arrays and maps (and skips a Raw record) recursively, within
the interpreter's recursion limit, and raises RecursionError past it. A frame nested that deep
(a hundred thousand levels fit in 100 KB) is dropped as too_deep. The outer frame is decoded
against its fixed layout, which never recurses, so with a keyring only an authenticated
payload can get that far. Measuring the depth before decoding instead (a walk over the
encoding in Python) cost more than decoding itself: it made the simulator's start-up 4x
slower.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from harombe.cluster.messages import KNOWN_TYPES, FramePayload, Message, encode
from harombe.cluster.replay import ReplayGuard

PROTOCOL_VERSION = 1
MAC_BYTES = 32


class FrameError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_outer = msgspec.msgpack.Decoder(tuple[int, str, bytes, bytes | None])
"""[version, label, payload, mac]: a fixed layout, so decoding it never recurses."""
_UNDECODABLE = (msgspec.MsgspecError, ValueError)
"""What msgspec raises on bad input (ValueError: e.g. a string that is not UTF-8)."""
_payload = msgspec.msgpack.Decoder(FramePayload)


@dataclass(slots=True)
class Envelope:
    sender: str
    addr: str
    gen: int
    seq: int
    ts: float
    msgs: list[Message]


class FrameCodec:
    """Encodes this node's frames and decodes (and vets) everyone else's."""

    def __init__(
        self,
        *,
        sender: str,
        addr: str,
        gen: int,
        label: str,
        keyring: Sequence[bytes],
        max_frame_bytes: int,
        max_messages: int,
        replay: ReplayGuard,
        wall_clock: Callable[[], float],
    ) -> None:
        self._sender, self._addr = sender, addr
        self.generation = gen
        """The sender's generation stamped on frames (Membership moves it on a restart)."""
        self._label = label
        self._keys = [bytes(k) for k in keyring]
        self._max_bytes = max_frame_bytes
        self._max_messages = max_messages
        self._replay = replay
        self._wall = wall_clock
        self._seq = 0
        self._mac_prefix = encode([PROTOCOL_VERSION, label])
        self.overhead = len(self.encode([])) + 16

    def encode(self, msgs: list[Any]) -> bytes:
        """A frame carrying `msgs`: messages, their pre-encoded msgspec.Raw form, or (tests
        only) hand-made lists."""
        self._seq += 1
        payload = encode([self._sender, self._addr, self.generation, self._seq, self._wall(), msgs])
        mac = self._mac(self._keys[0], payload) if self._keys else None
        return encode([PROTOCOL_VERSION, self._label, payload, mac])

    def decode(self, data: bytes) -> Envelope:
        if len(data) > self._max_bytes:
            raise FrameError("oversized")
        try:
            version, label, payload, mac = _outer.decode(data)
        except _UNDECODABLE:
            raise FrameError("malformed") from None
        if version != PROTOCOL_VERSION:
            raise FrameError("bad_version")
        if label != self._label:
            raise FrameError("wrong_label")
        if self._keys:
            if type(mac) is not bytes or not any(
                hmac.compare_digest(mac, self._mac(k, payload)) for k in self._keys
            ):
                raise FrameError("unauthenticated")
        elif mac is not None:
            raise FrameError("unauthenticated")
        try:
            p = _payload.decode(payload)
        except msgspec.ValidationError as exc:
            raise FrameError(_why_invalid(payload, exc)) from None
        except _UNDECODABLE:
            raise FrameError("malformed") from None
        except RecursionError:
            raise FrameError("too_deep") from None
        if len(p.msgs) > self._max_messages:
            raise FrameError("malformed")
        if self._keys:
            reason = self._replay.check(p.sender, p.gen, p.seq, p.ts, self._wall())
            if reason:
                raise FrameError(reason)
        return Envelope(p.sender, p.addr, p.gen, p.seq, p.ts, p.msgs)

    def _mac(self, key: bytes, payload: bytes) -> bytes:
        return hmac.new(key, self._mac_prefix + payload, hashlib.sha256).digest()


def _why_invalid(payload: bytes, exc: msgspec.ValidationError) -> str:
    """The drop reason for a payload that failed validation: out_of_range for a number past
    its bound (messages.MAX_UINT), unknown_type when it names a message type this version
    does not know (a newer peer's), else malformed."""
    if str(exc).startswith(("Expected `int` <=", "Expected `float` <=", "Expected `float` >=")):
        return "out_of_range"
    try:
        p = msgspec.msgpack.decode(payload)
    except (*_UNDECODABLE, RecursionError):
        return "malformed"
    if isinstance(p, list) and len(p) == 6 and isinstance(p[5], list):
        for m in p[5]:
            if isinstance(m, list) and m and type(m[0]) is int and m[0] not in KNOWN_TYPES:
                return "unknown_type"
    return "malformed"

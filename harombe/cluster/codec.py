"""Frames on the wire: envelope, cluster label, protocol version, HMAC and replay checks.

    frame   = msgpack [version, label, payload: bin, mac: bin | nil]
    payload = msgpack [sender, sender_addr, generation, seq, wall_ts, [message, ...]]

The size is checked before anything is decoded; version and label before authentication;
with a keyring the MAC (HMAC-SHA256 over version, label and payload, made with the first key,
checked against every key for rotation) before the payload is decoded; then the replay check,
then every message is validated. Any failure raises FrameError with the reason counted in
MembershipStats.dropped.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgpack

from harombe.cluster.messages import MAX_ADDR, Message, UnknownType, decode_message, text, uint
from harombe.cluster.replay import ReplayGuard

PROTOCOL_VERSION = 1
MAC_BYTES = 32


class FrameError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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
        self._sender, self._addr, self._gen = sender, addr, gen
        self._label = label
        self._keys = [bytes(k) for k in keyring]
        self._max_bytes = max_frame_bytes
        self._max_messages = max_messages
        self._replay = replay
        self._wall = wall_clock
        self._seq = 0
        self._mac_prefix = msgpack.packb([PROTOCOL_VERSION, label])
        self.overhead = len(self.encode([])) + 16

    def encode(self, msgs: list[list[Any]]) -> bytes:
        self._seq += 1
        payload = msgpack.packb(
            [self._sender, self._addr, self._gen, self._seq, self._wall(), msgs]
        )
        mac = self._mac(self._keys[0], payload) if self._keys else None
        return msgpack.packb([PROTOCOL_VERSION, self._label, payload, mac])

    def decode(self, data: bytes) -> Envelope:
        if len(data) > self._max_bytes:
            raise FrameError("oversized")
        outer = _unpack(data)
        if not isinstance(outer, list) or len(outer) != 4:
            raise FrameError("malformed")
        version, label, payload, mac = outer
        if type(version) is not int:
            raise FrameError("malformed")
        if version != PROTOCOL_VERSION:
            raise FrameError("bad_version")
        if label != self._label:
            raise FrameError("wrong_label")
        if type(payload) is not bytes:
            raise FrameError("malformed")
        if self._keys:
            if type(mac) is not bytes or not any(
                hmac.compare_digest(mac, self._mac(k, payload)) for k in self._keys
            ):
                raise FrameError("unauthenticated")
        elif mac is not None:
            raise FrameError("unauthenticated")
        env = self._envelope(_unpack(payload))
        if self._keys:
            reason = self._replay.check(env.sender, env.gen, env.seq, env.ts, self._wall())
            if reason:
                raise FrameError(reason)
        return env

    def _envelope(self, p: Any) -> Envelope:
        try:
            if not isinstance(p, list) or len(p) != 6:
                raise ValueError("payload must be a list of 6")
            sender, addr, gen, seq, ts, raw = p
            if type(ts) not in (int, float) or not isinstance(raw, list):
                raise ValueError("bad timestamp or message list")
            if not 0 < len(raw) <= self._max_messages:
                raise ValueError("bad message count")
            msgs = [decode_message(m) for m in raw]
            return Envelope(text(sender), text(addr, MAX_ADDR), uint(gen), uint(seq), ts, msgs)
        except UnknownType:
            raise FrameError("unknown_type") from None
        except (ValueError, TypeError):
            raise FrameError("malformed") from None

    def _mac(self, key: bytes, payload: bytes) -> bytes:
        return hmac.new(key, self._mac_prefix + payload, hashlib.sha256).digest()


def _unpack(data: Any) -> Any:
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=True)
    except Exception:
        raise FrameError("malformed") from None

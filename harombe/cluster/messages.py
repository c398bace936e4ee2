"""Membership messages and their msgpack wire form, validated on decode.

Every message is a msgspec Struct encoded as a list tagged by its type (`[type, field, ...]`),
so decoding a whole frame and checking every field's type and bounds happens in one C call
(`FRAME_PAYLOAD`); anything off makes msgspec raise and the whole frame is dropped. Records are
the exception: most records a peer receives are versions it holds already, so a received
record stays raw msgpack (`msgspec.Raw`) until the receiver decides to store it, and is
validated then (Membership drops the whole frame if it is malformed).
"""

from __future__ import annotations

import enum
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Raw, Struct

from harombe.cluster.record import NodeLoad
from harombe.cluster.state import MemberState

MAX_NAME = 256
MAX_ADDR = 300
MAX_ENTRIES = 8192
MAX_UINT = 2**63 - 1
"""Largest generation, incarnation, record version or sequence number on the wire: above it
a frame is dropped (out_of_range) before anything in it is handled, so no peer ever computes
with, or relays, a number it cannot encode or that its peers would refuse."""
MAX_TIMESTAMP = 2.0**53

Name = Annotated[str, Meta(min_length=1, max_length=MAX_NAME)]
Addr = Annotated[str, Meta(min_length=1, max_length=MAX_ADDR)]
UInt = Annotated[int, Meta(ge=0, le=MAX_UINT)]
Timestamp = Annotated[float, Meta(ge=0.0, le=MAX_TIMESTAMP)]
"""Seconds of the sender's wall clock (finite: a NaN would pass any window check)."""

NO_RECORD = Raw(b"\xc0")
"""A record field without a record (msgpack nil)."""


class MsgType(enum.IntEnum):
    PING = 1
    PING_REQ = 2
    ACK = 3
    NACK = 4
    ALIVE = 5
    SUSPECT = 6
    DEAD = 7
    LEFT = 8
    PUSHPULL = 9
    WANT = 10
    SYNC = 11
    LOAD = 12
    SUMMARY = 13


class _Msg(Struct, array_like=True, frozen=True, gc=False):
    """Encoded as `[type, field, ...]`: msgspec puts the tag first in an array-like struct."""


class Ping(_Msg, tag=int(MsgType.PING)):
    seq: UInt
    target: Name


class PingReq(_Msg, tag=int(MsgType.PING_REQ)):
    """Ask the receiver to probe `target` for us (indirect probe)."""

    seq: UInt
    target: Name
    target_addr: Addr
    nack: bool


class Ack(_Msg, tag=int(MsgType.ACK)):
    seq: UInt


class Nack(_Msg, tag=int(MsgType.NACK)):
    """A relay could not reach the target: the prober's own network is probably fine."""

    seq: UInt


class Alive(_Msg, tag=int(MsgType.ALIVE), gc=True, weakref=True):
    """`record` is the node's record as raw msgpack (NO_RECORD: none, as in a refutation)."""

    name: Name
    addr: Addr
    gen: UInt
    inc: UInt
    rv: UInt
    record: Raw


class Load(_Msg, tag=int(MsgType.LOAD)):
    """A record change that touched only load: record version `rv` is the record at version
    `base` (the last change of anything else) with this load. A receiver holding version
    `base` or newer applies it; one holding an older record asks for the whole record."""

    name: Name
    gen: UInt
    rv: UInt
    base: UInt
    load: NodeLoad

    def __post_init__(self) -> None:
        if self.base > self.rv:
            raise ValueError("load base is newer than its record version")


class Suspect(_Msg, tag=int(MsgType.SUSPECT)):
    name: Name
    gen: UInt
    inc: UInt
    by: Name


class Dead(_Msg, tag=int(MsgType.DEAD)):
    name: Name
    gen: UInt
    inc: UInt
    by: Name


class Left(_Msg, tag=int(MsgType.LEFT)):
    name: Name
    gen: UInt
    inc: UInt


class DigestEntry(Struct, array_like=True, frozen=True, gc=False):
    name: Name
    gen: UInt
    inc: UInt
    state: MemberState
    rv: UInt


class PushPull(_Msg, tag=int(MsgType.PUSHPULL)):
    """Anti-entropy digest of the sender's members with names in [lo, hi) (hi None: no end).
    The receiver answers with Sync (what the sender lacks) and Want (what it lacks)."""

    lo: Annotated[str, Meta(max_length=MAX_NAME)]
    hi: Name | None
    digest: Annotated[tuple[DigestEntry, ...], Meta(max_length=MAX_ENTRIES)]


class Summary(_Msg, tag=int(MsgType.SUMMARY)):
    """Opens a periodic push/pull: a hash of the sender's whole digest (pushpull.digest_hash).
    A receiver whose own hash differs answers with its digest (PushPull); one whose hash is
    the same (a converged cluster at rest) has nothing to exchange and stays silent."""

    members: UInt
    hash: Annotated[bytes, Meta(min_length=1, max_length=64)]


class Want(_Msg, tag=int(MsgType.WANT)):
    names: Annotated[tuple[Name, ...], Meta(max_length=MAX_ENTRIES)]


class SyncEntry(Struct, array_like=True, frozen=True, gc=False):
    name: Name
    addr: Addr
    gen: UInt
    inc: UInt
    state: MemberState
    rv: UInt
    record: Raw


class Sync(_Msg, tag=int(MsgType.SYNC)):
    entries: Annotated[tuple[SyncEntry, ...], Meta(max_length=MAX_ENTRIES)]


Message = (
    Ping
    | PingReq
    | Ack
    | Nack
    | Alive
    | Load
    | Suspect
    | Dead
    | Left
    | PushPull
    | Summary
    | Want
    | Sync
)

KNOWN_TYPES = frozenset(int(t) for t in MsgType)


class FramePayload(Struct, array_like=True, frozen=True, gc=False):
    """What a frame's MAC covers: the sender, its generation, a per-sender sequence number,
    its wall-clock time (replay checks) and the messages."""

    sender: Name
    addr: Addr
    gen: UInt
    seq: UInt
    ts: Timestamp
    msgs: Annotated[list[Message], Meta(min_length=1)]


_encoder = msgspec.msgpack.Encoder()
encode = _encoder.encode
"""msgpack bytes of a message, a list of them, or any plain value."""


def encoded_size(msg: Any) -> int:
    return len(_encoder.encode(msg))

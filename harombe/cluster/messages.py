"""Membership messages and their msgpack wire form (lists tagged by type), validated on decode.

Every field is type-checked here, at the wire edge; anything off raises ValueError (or
UnknownType) and the whole frame is dropped. Records are the exception: most records a peer
receives are versions it holds already, so a received record stays in its wire form
(RecordWire) until the receiver decides to store it, and is validated then (Membership drops
the whole frame if it is malformed).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, NamedTuple

from harombe.cluster.record import NodeLoad, NodeRecord
from harombe.cluster.state import CODE_STATES, STATE_CODES, MemberState

MAX_NAME = 256
MAX_ADDR = 300
MAX_ENTRIES = 8192
_U64 = 2**64


class UnknownType(ValueError):
    pass


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


class RecordWire:
    """A received record, not yet validated: `wire` is the msgpack-decoded mapping; `record`
    the validated NodeRecord once a receiver has decoded it."""

    __slots__ = ("record", "wire")

    def __init__(self, wire: dict[Any, Any]) -> None:
        self.wire = wire
        self.record: NodeRecord | None = None

    def to_wire(self) -> dict[Any, Any]:
        return self.wire

    def __eq__(self, other: object) -> bool:
        """Equal to any record (wire form or decoded) with the same wire form."""
        if isinstance(other, RecordWire | NodeRecord):
            return self.wire == other.to_wire()
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


AnyRecord = NodeRecord | RecordWire


@dataclass(frozen=True, slots=True)
class Ping:
    seq: int
    target: str

    def to_wire(self) -> list[Any]:
        return [MsgType.PING, self.seq, self.target]


@dataclass(frozen=True, slots=True)
class PingReq:
    """Ask the receiver to probe `target` for us (indirect probe)."""

    seq: int
    target: str
    target_addr: str
    nack: bool

    def to_wire(self) -> list[Any]:
        return [MsgType.PING_REQ, self.seq, self.target, self.target_addr, self.nack]


@dataclass(frozen=True, slots=True)
class Ack:
    seq: int

    def to_wire(self) -> list[Any]:
        return [MsgType.ACK, self.seq]


@dataclass(frozen=True, slots=True)
class Nack:
    """A relay could not reach the target: the prober's own network is probably fine."""

    seq: int

    def to_wire(self) -> list[Any]:
        return [MsgType.NACK, self.seq]


@dataclass(frozen=True, slots=True)
class Alive:
    name: str
    addr: str
    gen: int
    inc: int
    rv: int
    record: AnyRecord | None

    def to_wire(self) -> list[Any]:
        record = None if self.record is None else self.record.to_wire()
        return [MsgType.ALIVE, self.name, self.addr, self.gen, self.inc, self.rv, record]


@dataclass(frozen=True, slots=True)
class Load:
    """A record change that touched only load: record version `rv` is the record at version
    `base` (the last change of anything else) with this load. A receiver holding version
    `base` or newer applies it; one holding an older record asks for the whole record."""

    name: str
    gen: int
    rv: int
    base: int
    load: NodeLoad

    def to_wire(self) -> list[Any]:
        return [MsgType.LOAD, self.name, self.gen, self.rv, self.base, self.load.to_wire()]


@dataclass(frozen=True, slots=True)
class Suspect:
    name: str
    gen: int
    inc: int
    by: str

    def to_wire(self) -> list[Any]:
        return [MsgType.SUSPECT, self.name, self.gen, self.inc, self.by]


@dataclass(frozen=True, slots=True)
class Dead:
    name: str
    gen: int
    inc: int
    by: str

    def to_wire(self) -> list[Any]:
        return [MsgType.DEAD, self.name, self.gen, self.inc, self.by]


@dataclass(frozen=True, slots=True)
class Left:
    name: str
    gen: int
    inc: int

    def to_wire(self) -> list[Any]:
        return [MsgType.LEFT, self.name, self.gen, self.inc]


class DigestEntry(NamedTuple):
    name: str
    gen: int
    inc: int
    state: MemberState
    rv: int

    def to_wire(self) -> list[Any]:
        return [self.name, self.gen, self.inc, STATE_CODES[self.state], self.rv]


@dataclass(frozen=True, slots=True)
class PushPull:
    """Anti-entropy digest of the sender's members with names in [lo, hi) (hi None: no end).
    The receiver answers with Sync (what the sender lacks) and Want (what it lacks)."""

    lo: str
    hi: str | None
    digest: tuple[DigestEntry, ...]

    def to_wire(self) -> list[Any]:
        return [MsgType.PUSHPULL, self.lo, self.hi, [e.to_wire() for e in self.digest]]


@dataclass(frozen=True, slots=True)
class Want:
    names: tuple[str, ...]

    def to_wire(self) -> list[Any]:
        return [MsgType.WANT, list(self.names)]


class SyncEntry(NamedTuple):
    name: str
    addr: str
    gen: int
    inc: int
    state: MemberState
    rv: int
    record: AnyRecord | None

    def to_wire(self) -> list[Any]:
        record = None if self.record is None else self.record.to_wire()
        code = STATE_CODES[self.state]
        return [self.name, self.addr, self.gen, self.inc, code, self.rv, record]


@dataclass(frozen=True, slots=True)
class Sync:
    entries: tuple[SyncEntry, ...]

    def to_wire(self) -> list[Any]:
        return [MsgType.SYNC, [e.to_wire() for e in self.entries]]


Message = (
    Ping | PingReq | Ack | Nack | Alive | Load | Suspect | Dead | Left | PushPull | Want | Sync
)


def decode_message(w: Any) -> Message:
    if not isinstance(w, list) or not w:
        raise ValueError("message must be a non-empty list")
    kind = w[0]
    if type(kind) is not int:
        raise ValueError("message type must be an integer")
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise UnknownType(kind)
    return decoder(w)


def _fields(w: list[Any], n: int) -> list[Any]:
    if len(w) != n + 1:
        raise ValueError(f"message type {w[0]} takes {n} fields, got {len(w) - 1}")
    return w[1:]


def uint(x: Any) -> int:
    if type(x) is not int or not 0 <= x < _U64:
        raise ValueError("expected an unsigned integer")
    return x


def text(x: Any, max_len: int = MAX_NAME) -> str:
    if type(x) is not str or not 0 < len(x) <= max_len:
        raise ValueError(f"expected a string of 1..{max_len} characters")
    return x


def _flag(x: Any) -> bool:
    if type(x) is not bool:
        raise ValueError("expected a boolean")
    return x


def _state(x: Any) -> MemberState:
    if type(x) is not int or x not in CODE_STATES:
        raise ValueError("expected a member state code")
    return CODE_STATES[x]


def _list(x: Any) -> list[Any]:
    if not isinstance(x, list) or len(x) > MAX_ENTRIES:
        raise ValueError(f"expected a list of at most {MAX_ENTRIES} items")
    return x


def _record(x: Any) -> RecordWire | None:
    if x is None:
        return None
    if not isinstance(x, dict):
        raise ValueError("record must be a mapping")
    return RecordWire(x)


def _ping(w: list[Any]) -> Ping:
    seq, target = _fields(w, 2)
    return Ping(uint(seq), text(target))


def _ping_req(w: list[Any]) -> PingReq:
    seq, target, addr, nack = _fields(w, 4)
    return PingReq(uint(seq), text(target), text(addr, MAX_ADDR), _flag(nack))


def _ack(w: list[Any]) -> Ack:
    (seq,) = _fields(w, 1)
    return Ack(uint(seq))


def _nack(w: list[Any]) -> Nack:
    (seq,) = _fields(w, 1)
    return Nack(uint(seq))


def _alive(w: list[Any]) -> Alive:
    name, addr, gen, inc, rv, record = _fields(w, 6)
    name = text(name)
    return Alive(name, text(addr, MAX_ADDR), uint(gen), uint(inc), uint(rv), _record(record))


def _load(w: list[Any]) -> Load:
    name, gen, rv, base, load = _fields(w, 5)
    rv, base = uint(rv), uint(base)
    if base > rv:
        raise ValueError("load base is newer than its record version")
    return Load(text(name), uint(gen), rv, base, NodeLoad.from_wire(load))


def _suspect(w: list[Any]) -> Suspect:
    name, gen, inc, by = _fields(w, 4)
    return Suspect(text(name), uint(gen), uint(inc), text(by))


def _dead(w: list[Any]) -> Dead:
    name, gen, inc, by = _fields(w, 4)
    return Dead(text(name), uint(gen), uint(inc), text(by))


def _left(w: list[Any]) -> Left:
    name, gen, inc = _fields(w, 3)
    return Left(text(name), uint(gen), uint(inc))


def _digest_entry(e: Any) -> DigestEntry:
    if not isinstance(e, list) or len(e) != 5:
        raise ValueError("digest entry must be a list of 5")
    return DigestEntry(text(e[0]), uint(e[1]), uint(e[2]), _state(e[3]), uint(e[4]))


def _pushpull(w: list[Any]) -> PushPull:
    lo, hi, digest = _fields(w, 3)
    if type(lo) is not str or len(lo) > MAX_NAME:
        raise ValueError("pushpull range start must be a string")
    hi = None if hi is None else text(hi)
    return PushPull(lo, hi, tuple(_digest_entry(e) for e in _list(digest)))


def _want(w: list[Any]) -> Want:
    (names,) = _fields(w, 1)
    return Want(tuple(text(n) for n in _list(names)))


def _sync_entry(e: Any) -> SyncEntry:
    if not isinstance(e, list) or len(e) != 7:
        raise ValueError("sync entry must be a list of 7")
    name = text(e[0])
    return SyncEntry(
        name,
        text(e[1], MAX_ADDR),
        uint(e[2]),
        uint(e[3]),
        _state(e[4]),
        uint(e[5]),
        _record(e[6]),
    )


def _sync(w: list[Any]) -> Sync:
    (entries,) = _fields(w, 1)
    return Sync(tuple(_sync_entry(e) for e in _list(entries)))


_DECODERS = {
    MsgType.PING: _ping,
    MsgType.PING_REQ: _ping_req,
    MsgType.ACK: _ack,
    MsgType.NACK: _nack,
    MsgType.ALIVE: _alive,
    MsgType.SUSPECT: _suspect,
    MsgType.DEAD: _dead,
    MsgType.LEFT: _left,
    MsgType.PUSHPULL: _pushpull,
    MsgType.WANT: _want,
    MsgType.SYNC: _sync,
    MsgType.LOAD: _load,
}

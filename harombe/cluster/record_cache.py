"""Decoded node records by (name, generation, record version).

A record version names one record of one node, so a record decoded (and validated) once need
not be decoded again, and everyone holding that version can share one object. A Membership
keeps its own cache by default; the simulator hands one cache to all of its peers, so a
thousand peers in one process hold one copy of each record version instead of a thousand.
Values are held weakly: a version no member holds any more is forgotten.
"""

from __future__ import annotations

import weakref

from msgspec import Raw

from harombe.cluster.messages import NO_RECORD, Alive
from harombe.cluster.record import NodeRecord

RecordKey = tuple[str, int, int]
AliveKey = tuple[str, str, int, int, int, bool]


class RecordCache:
    def __init__(self) -> None:
        self._records: weakref.WeakValueDictionary[RecordKey, NodeRecord] = (
            weakref.WeakValueDictionary()
        )
        self._alives: weakref.WeakValueDictionary[AliveKey, Alive] = weakref.WeakValueDictionary()

    def __len__(self) -> int:
        return len(self._records)

    def get(self, name: str, gen: int, rv: int) -> NodeRecord | None:
        return self._records.get((name, gen, rv))

    def put(self, name: str, gen: int, rv: int, record: NodeRecord) -> NodeRecord:
        """Remember a record made locally (our own, or a known one with new load)."""
        self._records[(name, gen, rv)] = record
        return record

    def decode(self, name: str, gen: int, rv: int, raw: Raw) -> NodeRecord:
        """The record version `rv` of node `name` from its raw msgpack, validated unless this
        version is known already; ValueError if it is malformed or names another node."""
        record = self._records.get((name, gen, rv))
        if record is None:
            record = NodeRecord.from_raw(raw)
            if record.name != name:
                raise ValueError("record names another node")
            self._records[(name, gen, rv)] = record
        return record

    def alive(self, name: str, addr: str, gen: int, inc: int, rv: int, raw: Raw) -> Alive:
        """The alive message about one version of a node as it is relayed: one object for
        every holder (a simulator's peers all relay the same news), `raw` either that
        version's record or NO_RECORD."""
        key = (name, addr, gen, inc, rv, raw == NO_RECORD)
        msg = self._alives.get(key)
        if msg is None:
            msg = self._alives[key] = Alive(name, addr, gen, inc, rv, raw)
        return msg

"""Member tables stored by column: one array per field, indexed by a compact member id.

A node holds one row per member of the cluster, and the simulator runs thousands of nodes in
one process, so a row is kept to a few machine words: state, generation, incarnation, record
version and two times in `array`s, address and record as references to objects shared by every
holder (interned strings, the records of a `RecordCache`). Round-trip times and suspicions,
which few members have at a time, live in dicts by id.

Ids come from a `MemberIds` registry. A node has one of its own by default; nodes in one
process may share one (the simulator's peers do), so that a member has the same id in every
table and no table needs a dictionary of its own from names to rows. An id is never reused:
a reaped member's row stays empty, and the name it had keeps its id.
"""

from __future__ import annotations

import hashlib
import sys
from array import array
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from harombe.cluster.messages import DigestEntry, encode
from harombe.cluster.state import MemberState

if TYPE_CHECKING:
    from harombe.cluster.record import NodeRecord
    from harombe.cluster.suspicion import Suspicion

ABSENT = -1
"""State code of a row no member occupies."""

STATES = tuple(MemberState)
"""Member states by their code, `MemberState._value_` (read directly on hot paths: the
`value` property costs a Python call)."""

DigestRow = tuple[int, int, int, int]
"""(generation, incarnation, state code, record version): what a digest entry says of a row."""

_SPARE_ROWS = 16
"""Empty rows a table grows by beyond what it needs (plus 1/64 of its size)."""

_HASH_BITS = 128
_HASH_MASK = (1 << _HASH_BITS) - 1


class MemberIds:
    """Compact ids for member names, in order of first sight."""

    __slots__ = ("index", "names")

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        """Ids by name."""
        self.names: list[str] = []
        """Names by id."""

    def __len__(self) -> int:
        return len(self.names)

    def id(self, name: str) -> int:
        """The id of `name`, given one (and the name interned) if it has none yet."""
        i = self.index.get(name)
        if i is None:
            name = sys.intern(name)
            i = self.index[name] = len(self.names)
            self.names.append(name)
        return i


def entry_hash(name: str, row: DigestRow) -> int:
    """A 128-bit hash of one digest entry (name, generation, incarnation, state, version)."""
    gen, inc, state, rv = row
    data = encode((name, gen, inc, state, rv))
    return int.from_bytes(hashlib.blake2b(data, digest_size=16).digest(), "big")


class MemberColumns:
    """The rows of one table, and the sum of their digest entries' hashes (modulo 2^128),
    kept as rows change so that a table's digest hash costs the rows that changed, not the
    whole table. A new row's hash is added at once; a write to a row's digest fields goes
    through `touch` first, which notes the row's former values (once), and `digest_sum`
    folds the changes in when the sum is next asked for."""

    __slots__ = (
        "_digest",
        "_dirty",
        "address",
        "gen",
        "ids",
        "inc",
        "record",
        "rtt",
        "rv",
        "since",
        "state",
        "suspicion",
        "updated",
    )

    def __init__(self, ids: MemberIds) -> None:
        self.ids = ids
        self.state = array("b")
        self.gen = array("q")
        self.inc = array("q")
        self.rv = array("q")
        self.since = array("d")
        """When each member's state last changed."""
        self.updated = array("d")
        """When each member's record last changed (or it was first heard of)."""
        self.address: list[str] = []
        """Interned addresses ("" in an empty row)."""
        self.record: list[NodeRecord | None] = []
        self.rtt: dict[int, float] = {}
        self.suspicion: dict[int, Suspicion] = {}
        self._dirty: dict[int, DigestRow | None] = {}
        self._digest = 0

    def __len__(self) -> int:
        return len(self.state)

    def holds(self, i: int) -> bool:
        return i < len(self.state) and self.state[i] != ABSENT

    def grow(self, size: int) -> None:
        """Room for ids below `size`, every id given so far and a few more (new rows empty),
        so that a registry growing one name at a time costs few resizes. Each column is
        copied into one of the exact size: extending in place would leave it a sixteenth
        larger than needed, in every table of a simulator growing by one member."""
        have = len(self.state)
        more = max(size, len(self.ids), have + _SPARE_ROWS + have // 64) - have
        if more <= 0:
            return
        self.state = self.state + array("b", [ABSENT]) * more
        zeros = array("q", [0]) * more
        self.gen = self.gen + zeros
        self.inc = self.inc + zeros
        self.rv = self.rv + zeros
        times = array("d", [0.0]) * more
        self.since = self.since + times
        self.updated = self.updated + times
        self.address = self.address + [""] * more
        self.record = self.record + [None] * more

    def put(
        self, i: int, address: str, gen: int, inc: int, state: MemberState, since: float,
        record: NodeRecord | None, rv: int, updated: float,
    ) -> None:  # fmt: skip
        """Fill row `i` (empty or not), without a round-trip time or suspicion."""
        if i >= len(self.state):
            self.grow(i + 1)
        fresh = self.state[i] == ABSENT
        if not fresh and i not in self._dirty:
            self._dirty[i] = self.digest_row(i)
        if self.rtt:
            self.rtt.pop(i, None)
        if self.suspicion:
            self.suspicion.pop(i, None)
        code = state._value_
        self.state[i] = code
        self.gen[i] = gen
        self.inc[i] = inc
        self.rv[i] = rv
        self.since[i] = since
        self.updated[i] = updated
        self.address[i] = sys.intern(address)
        self.record[i] = record
        if fresh and i not in self._dirty:
            self._digest = (
                self._digest + entry_hash(self.ids.names[i], (gen, inc, code, rv))
            ) & _HASH_MASK

    def clear(self, i: int) -> None:
        """Empty row `i`."""
        self.touch(i)
        self.state[i] = ABSENT
        self.address[i] = ""
        self.record[i] = None
        self.rtt.pop(i, None)
        self.suspicion.pop(i, None)

    def touch(self, i: int) -> None:
        """Note row `i`'s digest values before one of them changes (once until folded in)."""
        dirty = self._dirty
        if i not in dirty:
            dirty[i] = self.digest_row(i)

    def digest_row(self, i: int) -> DigestRow | None:
        if not self.holds(i):
            return None
        return self.gen[i], self.inc[i], self.state[i], self.rv[i]

    def digest_sum(self) -> int:
        """The sum of every row's `entry_hash`, modulo 2^128."""
        if self._dirty:
            total = self._digest
            names = self.ids.names
            for i, before in self._dirty.items():
                if before is not None:
                    total -= entry_hash(names[i], before)
                after = self.digest_row(i)
                if after is not None:
                    total += entry_hash(names[i], after)
            self._digest = total & _HASH_MASK
            self._dirty.clear()
        return self._digest

    def copy_rows(self, other: MemberColumns) -> None:
        """Take every row of `other` (same registry), replacing all of ours: a C-level copy
        of each column, with the objects rows refer to shared."""
        if other.ids is not self.ids:
            raise ValueError("columns from another id registry")
        self.state = array("b", other.state)
        self.gen = array("q", other.gen)
        self.inc = array("q", other.inc)
        self.rv = array("q", other.rv)
        self.since = array("d", other.since)
        self.updated = array("d", other.updated)
        self.address = list(other.address)
        self.record = list(other.record)
        self.rtt = dict(other.rtt)
        self.suspicion = {}
        self._dirty = dict(other._dirty)
        self._digest = other._digest

    def digest(self, ids: Iterable[int]) -> Iterator[DigestEntry]:
        """The digest entries of rows `ids` (occupied ones)."""
        ids = list(ids)
        states = map(STATES.__getitem__, map(self.state.__getitem__, ids))
        fields = (self.ids.names, self.gen, self.inc, None, self.rv)
        columns = [states if f is None else map(f.__getitem__, ids) for f in fields]
        return map(DigestEntry, *columns)

"""The members one node knows: per-member state, read-only views, and the table holding them.

The table keeps what every part of the protocol asks of it cheaply: a member by name, the
peers (everyone but this node) in an array of ids for O(1) random picks, counts by state, and
the round-robin probe order, into which a new member goes at a random place (SWIM's
randomised round-robin: each member probed once per round, a newcomer within the current
round). The members themselves are rows of columns (columns.py); a `Member` is a small handle
on one row, made when asked for, so that a node holding ten thousand members holds no object
per member.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain

from harombe.cluster.columns import ABSENT, STATES, MemberColumns, MemberIds
from harombe.cluster.messages import DigestEntry
from harombe.cluster.record import NodeRecord
from harombe.cluster.state import MemberState, precedence
from harombe.cluster.suspicion import Suspicion

_ALIVE = MemberState.ALIVE.value
_SUSPECT = MemberState.SUSPECT.value


@dataclass
class MemberView:
    """A read-only snapshot of one member, as this node sees it."""

    name: str
    address: str
    state: MemberState
    incarnation: int
    record: NodeRecord | None
    rtt: float | None
    """Seconds: EWMA of this node's own probe RTTs to the member (None for self or unmeasured)."""
    state_since: float
    last_update: float
    is_self: bool
    generation: int = 0
    record_version: int = 0


class Member:
    """One member as this node sees it: a handle on its row of a table's columns. Reading or
    setting a field reads or writes the row; two handles on the same row are equal.

    Built from fields, a member belongs to no table (a row of its own) until a table `add`s
    it, which moves its row into the table's columns and points this handle there."""

    __slots__ = ("_c", "_i")

    def __init__(
        self, name: str, address: str, gen: int, inc: int, state: MemberState,
        state_since: float, record: NodeRecord | None, rv: int, last_update: float,
        rtt: float | None = None, suspicion: Suspicion | None = None,
    ) -> None:  # fmt: skip
        columns = MemberColumns(MemberIds())
        i = columns.ids.id(name)
        columns.put(i, address, gen, inc, state, state_since, record, rv, last_update)
        self._c = columns
        self._i = i
        self.rtt = rtt
        self.suspicion = suspicion

    @classmethod
    def at(cls, columns: MemberColumns, i: int) -> Member:
        m = object.__new__(cls)
        m._c = columns
        m._i = i
        return m

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Member) and other._i == self._i and other._c is self._c

    def __hash__(self) -> int:
        return hash((id(self._c), self._i))

    def __repr__(self) -> str:
        return f"Member({self.name!r}, {self.state.label}, gen={self.gen}, inc={self.inc})"

    @property
    def id(self) -> int:
        return self._i

    @property
    def name(self) -> str:
        return self._c.ids.names[self._i]

    @property
    def address(self) -> str:
        return self._c.address[self._i]

    @address.setter
    def address(self, value: str) -> None:
        self._c.address[self._i] = value

    @property
    def gen(self) -> int:
        return self._c.gen[self._i]

    @gen.setter
    def gen(self, value: int) -> None:
        self._c.touch(self._i)
        self._c.gen[self._i] = value

    @property
    def inc(self) -> int:
        return self._c.inc[self._i]

    @inc.setter
    def inc(self, value: int) -> None:
        self._c.touch(self._i)
        self._c.inc[self._i] = value

    @property
    def rv(self) -> int:
        return self._c.rv[self._i]

    @rv.setter
    def rv(self, value: int) -> None:
        self._c.touch(self._i)
        self._c.rv[self._i] = value

    @property
    def state(self) -> MemberState:
        return STATES[self._c.state[self._i]]

    @state.setter
    def state(self, value: MemberState) -> None:
        self._c.touch(self._i)
        self._c.state[self._i] = value._value_

    @property
    def state_since(self) -> float:
        return self._c.since[self._i]

    @state_since.setter
    def state_since(self, value: float) -> None:
        self._c.since[self._i] = value

    @property
    def last_update(self) -> float:
        return self._c.updated[self._i]

    @last_update.setter
    def last_update(self, value: float) -> None:
        self._c.updated[self._i] = value

    @property
    def record(self) -> NodeRecord | None:
        return self._c.record[self._i]

    @record.setter
    def record(self, value: NodeRecord | None) -> None:
        self._c.record[self._i] = value

    @property
    def rtt(self) -> float | None:
        return self._c.rtt.get(self._i)

    @rtt.setter
    def rtt(self, value: float | None) -> None:
        if value is None:
            self._c.rtt.pop(self._i, None)
        else:
            self._c.rtt[self._i] = value

    @property
    def suspicion(self) -> Suspicion | None:
        return self._c.suspicion.get(self._i)

    @suspicion.setter
    def suspicion(self, value: Suspicion | None) -> None:
        if value is None:
            self._c.suspicion.pop(self._i, None)
        else:
            self._c.suspicion[self._i] = value

    @property
    def key(self) -> tuple[int, int]:
        return precedence(self.gen, self.inc)

    def view(self, is_self: bool) -> MemberView:
        c, i = self._c, self._i
        return MemberView(
            name=c.ids.names[i],
            address=self.address,
            state=STATES[c.state[i]],
            incarnation=c.inc[i],
            record=c.record[i],
            rtt=c.rtt.get(i),
            state_since=c.since[i],
            last_update=c.updated[i],
            is_self=is_self,
            generation=c.gen[i],
            record_version=c.rv[i],
        )


class Peers:
    """Every member of a table but its own node, in no particular order (a read-only
    sequence of handles over the table's array of ids)."""

    __slots__ = ("_table",)

    def __init__(self, table: MemberTable) -> None:
        self._table = table

    def __len__(self) -> int:
        return len(self._table.peer_ids)

    def __getitem__(self, k: int) -> Member:
        return Member.at(self._table.columns, self._table.peer_ids[k])

    def __iter__(self) -> Iterator[Member]:
        columns = self._table.columns
        return (Member.at(columns, i) for i in self._table.peer_ids)


class MemberTable:
    def __init__(self, me: Member, rng: random.Random, ids: MemberIds | None = None) -> None:
        """`ids`: the registry of member ids (default: one of this table's own)."""
        self.columns = MemberColumns(MemberIds() if ids is None else ids)
        self._index = self.columns.ids.index
        self._rng = rng
        self.peer_ids = array("i")
        """Ids of every member but this node, in no particular order."""
        self.peers = Peers(self)
        self._counts = [0] * len(STATES)
        self.probe_order: list[str] = []
        """Names in this probe round's order (probing reshuffles it when a round ends)."""
        self._attach(me)
        self.me = me
        self._counts[me.state._value_] += 1

    def __len__(self) -> int:
        return len(self.peer_ids) + 1

    def __contains__(self, name: str) -> bool:
        return self.find_id(name) is not None

    def __iter__(self) -> Iterator[Member]:
        columns = self.columns
        return (Member.at(columns, i) for i in self.ids())

    def find_id(self, name: str) -> int | None:
        """The id of member `name`, None if this table does not hold it."""
        i = self._index.get(name)
        if i is None:
            return None
        state = self.columns.state
        return i if i < len(state) and state[i] != ABSENT else None

    def get(self, name: str) -> Member | None:
        i = self.find_id(name)
        return None if i is None else Member.at(self.columns, i)

    def stale(self, name: str, gen: int, inc: int, rv: int) -> bool:
        """Whether an alive claim about `name` at (gen, inc, rv) tells nothing new: we hold
        that generation at that incarnation and record version or newer."""
        i = self._index.get(name)
        if i is None:
            return False
        c = self.columns
        try:
            return c.state[i] != ABSENT and gen == c.gen[i] and inc <= c.inc[i] and rv <= c.rv[i]
        except IndexError:
            return False

    def version(self, name: str) -> tuple[int, int] | None:
        """(generation, record version) of member `name`; None if we do not hold it."""
        i = self.find_id(name)
        return None if i is None else (self.columns.gen[i], self.columns.rv[i])

    def count(self, state: MemberState) -> int:
        return self._counts[state._value_]

    @property
    def live(self) -> int:
        """Members alive or suspect, this node included."""
        return self._counts[_ALIVE] + self._counts[_SUSPECT]

    def _attach(self, m: Member) -> None:
        """Move `m`'s row into this table's columns and point `m` there."""
        c = self.columns
        i = c.ids.id(m.name)
        rtt, suspicion = m.rtt, m.suspicion
        c.put(i, m.address, m.gen, m.inc, m.state, m.state_since, m.record, m.rv, m.last_update)
        m._c, m._i = c, i
        m.rtt, m.suspicion = rtt, suspicion

    def add(self, m: Member) -> None:
        self._attach(m)
        self._enter(m.id, m.state)

    def insert(
        self, name: str, address: str, gen: int, inc: int, state: MemberState, now: float,
        record: NodeRecord | None, rv: int,
    ) -> Member:  # fmt: skip
        """A member first heard of at `now`, added; its strings shared with every holder."""
        c = self.columns
        i = c.ids.id(name)
        c.put(i, address, gen, inc, state, now, record, rv, now)
        self._enter(i, state)
        return Member.at(c, i)

    def _enter(self, i: int, state: MemberState) -> None:
        self.peer_ids.append(i)
        self._counts[state._value_] += 1
        order = self.probe_order
        order.insert(int(self._rng.random() * (len(order) + 1)), self.columns.ids.names[i])

    def remove(self, m: Member) -> None:
        """Forget a member (rare: a tombstone's end). O(members) for the peer array."""
        self._counts[m.state._value_] -= 1
        self.peer_ids.remove(m.id)
        self.columns.clear(m.id)

    def moved(self, prev: MemberState, state: MemberState) -> None:
        """Keep the counts by state right when a member goes from `prev` to `state`."""
        self._counts[prev._value_] -= 1
        self._counts[state._value_] += 1

    def sample(
        self, k: int, ok: Callable[[Member], bool], exclude: Member | None = None
    ) -> list[Member]:
        """Up to k distinct random peers satisfying ok (O(k) on large clusters)."""
        ids = self.peer_ids
        columns = self.columns
        rng = self._rng
        skip = -1 if exclude is None else exclude.id
        if len(ids) > 4 * k + 8:
            picked: dict[int, Member] = {}
            for _ in range(4 * k):
                i = ids[int(rng.random() * len(ids))]
                if i != skip and ok(m := Member.at(columns, i)):
                    picked[i] = m
                    if len(picked) == k:
                        return list(picked.values())
        candidates = [m for i in ids if i != skip and ok(m := Member.at(columns, i))]
        return rng.sample(candidates, min(k, len(candidates)))

    def ids(self) -> Iterator[int]:
        """Ids of every member, this node's first."""
        return chain((self.me.id,), self.peer_ids)

    def digest(self) -> Iterator[DigestEntry]:
        """A digest entry per member (push/pull)."""
        return self.columns.digest(self.ids())

    def digest_sum(self) -> int:
        """The sum of the digest entries' hashes (columns.entry_hash), modulo 2^128."""
        return self.columns.digest_sum()

    def adopt(self, snapshot: MemberSnapshot) -> None:
        """Learn every member of `snapshot` at once, as alive messages about each would teach
        them (first heard of at the snapshot's time) but at the cost of copying arrays. This
        node's own row stays its own. Only for a table that knows no one else yet."""
        if len(self) > 1:
            raise ValueError("only a table that knows no other member can adopt a snapshot")
        me = self.me
        mine = (me.address, me.gen, me.inc, me.state, me.state_since, me.record, me.rv,
                me.last_update)  # fmt: skip
        self.columns.copy_rows(snapshot.columns)
        self.columns.put(me.id, *mine)
        peers = array("i", snapshot.ids)
        order = snapshot.order
        turn = int(self._rng.random() * len(order))
        order = order[turn:] + order[:turn]
        if snapshot.columns.holds(me.id):
            peers.remove(me.id)
            order.remove(me.name)
        self.peer_ids = peers
        self.probe_order = order
        self._counts = [0] * len(STATES)
        self._counts[_ALIVE] = len(peers)
        self._counts[me.state._value_] += 1


class MemberSnapshot:
    """The alive members of one table, frozen, for other tables of the same id registry to
    adopt (`MemberTable.adopt`): the simulator's converged start hands one to every peer,
    which then copies arrays instead of handling an alive message per member. Rows and the
    records they refer to are shared, never copied per adopter.

    Every adopter starts its first probe round at a random place of one shuffled order
    (`order`): the rounds of different adopters are rotations of one another, which spreads
    the probes of a round over the members as independent shuffles would, at the cost of a
    slice instead of a shuffle per adopter."""

    __slots__ = ("columns", "ids", "order")

    def __init__(self, table: MemberTable, rng: random.Random, now: float) -> None:
        """The alive members of `table` as first heard of at `now`; `rng` shuffles the
        probe order."""
        source = table.columns
        columns = self.columns = MemberColumns(source.ids)
        columns.grow(len(source))
        alive = [m.id for m in table if m.state is MemberState.ALIVE]
        for i in alive:
            columns.put(
                i, source.address[i], source.gen[i], source.inc[i], MemberState.ALIVE, now,
                source.record[i], source.rv[i], now,
            )  # fmt: skip
        columns.digest_sum()
        self.ids = array("i", alive)
        """Ids of the members, in the source table's order."""
        self.order = [source.ids.names[i] for i in alive]
        rng.shuffle(self.order)

    def __len__(self) -> int:
        return len(self.ids)

"""The members one node knows: per-member state, read-only views, and the table holding them.

The table keeps what every part of the protocol asks of it cheaply: a member by name, the
peers (everyone but this node) in a list for O(1) random picks, counts by state, and the
round-robin probe order, into which a new member goes at a random place (SWIM's randomised
round-robin: each member probed once per round, a newcomer within the current round).
"""

from __future__ import annotations

import collections
import random
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from harombe.cluster.record import NodeRecord
from harombe.cluster.state import MemberState, precedence
from harombe.cluster.suspicion import Suspicion


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


@dataclass(slots=True, eq=False)
class Member:
    """One member as this node sees it. A node holds one per member of the cluster, so this is
    kept small: slots, no optional state that most members never have (a suspicion's timer
    lives in the suspicion), and names and addresses interned (`interned`), so that the
    simulator's thousands of peers share one string per member instead of one each."""

    name: str
    address: str
    gen: int
    inc: int
    state: MemberState
    state_since: float
    record: NodeRecord | None
    rv: int
    last_update: float
    rtt: float | None = None
    suspicion: Suspicion | None = None

    @classmethod
    def interned(
        cls, name: str, address: str, gen: int, inc: int, state: MemberState, now: float,
        record: NodeRecord | None, rv: int,
    ) -> Member:  # fmt: skip
        """A member first heard of at `now`, its strings shared with every other holder."""
        return cls(sys.intern(name), sys.intern(address), gen, inc, state, now, record, rv, now)

    @property
    def key(self) -> tuple[int, int]:
        return precedence(self.gen, self.inc)

    def view(self, is_self: bool) -> MemberView:
        return MemberView(
            name=self.name,
            address=self.address,
            state=self.state,
            incarnation=self.inc,
            record=self.record,
            rtt=self.rtt,
            state_since=self.state_since,
            last_update=self.last_update,
            is_self=is_self,
            generation=self.gen,
            record_version=self.rv,
        )


class MemberTable:
    def __init__(self, me: Member, rng: random.Random) -> None:
        self.me = me
        self._rng = rng
        self._members: dict[str, Member] = {me.name: me}
        self.peers: list[Member] = []
        """Every member but this node, in no particular order."""
        self._counts: collections.Counter[MemberState] = collections.Counter({me.state: 1})
        self.probe_order: list[str] = []
        """Names in this probe round's order (probing reshuffles it when a round ends)."""

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, name: str) -> bool:
        return name in self._members

    def __iter__(self) -> Iterator[Member]:
        return iter(self._members.values())

    def get(self, name: str) -> Member | None:
        return self._members.get(name)

    def count(self, state: MemberState) -> int:
        return self._counts[state]

    @property
    def live(self) -> int:
        """Members alive or suspect, this node included."""
        return self._counts[MemberState.ALIVE] + self._counts[MemberState.SUSPECT]

    def add(self, m: Member) -> None:
        self._members[m.name] = m
        self.peers.append(m)
        self._counts[m.state] += 1
        order = self.probe_order
        order.insert(int(self._rng.random() * (len(order) + 1)), m.name)

    def remove(self, m: Member) -> None:
        """Forget a member (rare: a tombstone's end). O(members): no index per member is kept
        for it, as that would cost every member memory on every node."""
        del self._members[m.name]
        self.peers.remove(m)
        self._counts[m.state] -= 1

    def moved(self, prev: MemberState, state: MemberState) -> None:
        """Keep the counts by state right when a member goes from `prev` to `state`."""
        self._counts[prev] -= 1
        self._counts[state] += 1

    def sample(
        self, k: int, ok: Callable[[Member], bool], exclude: Member | None = None
    ) -> list[Member]:
        """Up to k distinct random peers satisfying ok (O(k) on large clusters)."""
        peers = self.peers
        rng = self._rng
        if len(peers) > 4 * k + 8:
            picked: dict[str, Member] = {}
            for _ in range(4 * k):
                m = peers[int(rng.random() * len(peers))]
                if m is not exclude and ok(m):
                    picked[m.name] = m
                    if len(picked) == k:
                        return list(picked.values())
        candidates = [m for m in peers if m is not exclude and ok(m)]
        return rng.sample(candidates, min(k, len(candidates)))

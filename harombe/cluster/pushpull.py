"""Push/pull anti-entropy by digest: compare versions first, ship full entries only on a diff.

memberlist ships its whole state both ways on every push/pull; with records that is O(N) bytes
per exchange even at rest, and it outgrows one frame past a few hundred peers. Here a periodic
exchange opens with a hash of the initiator's digest (Summary, ~40 bytes): in a converged
cluster the receiver holds the same digest and the exchange ends there, so push/pull traffic
at rest does not grow with the cluster. Otherwise (and on join) a digest (name, generation,
incarnation, state, record version: ~25 bytes a peer) split into name ranges that each fit a
frame is sent; its receiver answers with the entries the digest's sender lacks or holds older
(Sync) and the names it wants itself (Want).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TypeVar

from harombe.cluster.codec import Envelope
from harombe.cluster.columns import STATES, MemberColumns
from harombe.cluster.core import Core
from harombe.cluster.dissemination import Dissemination, raw_record
from harombe.cluster.messages import (
    Alive,
    DigestEntry,
    Left,
    PushPull,
    Summary,
    Suspect,
    Sync,
    SyncEntry,
    Want,
    encode,
    encoded_size,
)
from harombe.cluster.state import MemberState
from harombe.cluster.transitions import StateMachine

T = TypeVar("T", DigestEntry, SyncEntry)

# At equal (generation, incarnation): suspect beats alive, dead/left beat suspect.
_RANK = {MemberState.ALIVE: 0, MemberState.SUSPECT: 1, MemberState.DEAD: 2, MemberState.LEFT: 2}


def newer(a: DigestEntry, b: DigestEntry) -> bool:
    """True when claim a about a node supersedes claim b (in liveness or in record)."""
    if (a.gen, a.inc, _RANK[a.state]) > (b.gen, b.inc, _RANK[b.state]):
        return True
    return a.gen == b.gen and a.rv > b.rv


def chunked(items: Sequence[T], budget: int) -> Iterator[list[T]]:
    """Consecutive runs of items whose encoded sizes add up to at most `budget` bytes."""
    chunk: list[T] = []
    size = 0
    for item in items:
        item_size = encoded_size(item)
        if chunk and size + item_size > budget:
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += item_size
    if chunk:
        yield chunk


def digest_messages(entries: Iterable[DigestEntry], budget: int) -> list[PushPull]:
    """Our digest as PushPull messages covering consecutive name ranges [lo, hi)."""
    chunks = list(chunked(sorted(entries, key=_name), budget))
    return [
        PushPull(
            "" if i == 0 else chunk[0].name,
            chunks[i + 1][0].name if i + 1 < len(chunks) else None,
            tuple(chunk),
        )
        for i, chunk in enumerate(chunks)
    ]


def compare(mine: Mapping[str, DigestEntry], pp: PushPull) -> tuple[list[str], tuple[str, ...]]:
    """(names to give the sender, names we want from it) for one digest range.

    We give what the sender lacks (unless it is a tombstone: news of a death the sender never
    knew about is useless to it) or holds older; we want what we lack (alive only: a stranger's
    tombstone is useless to us) or hold older.
    """
    theirs = {e.name: e for e in pp.digest}
    give = []
    for name, ours in mine.items():
        if name < pp.lo or (pp.hi is not None and name >= pp.hi):
            continue
        other = theirs.get(name)
        if (other is None and not ours.state.gone) or (other is not None and newer(ours, other)):
            give.append(name)
    want = []
    for e in pp.digest:
        ours = mine.get(e.name)
        if (ours is None and e.state is MemberState.ALIVE) or (ours and newer(e, ours)):
            want.append(e.name)
    return give, tuple(want)


SUM_TAG = b"\x01"
"""First byte of a summary hash that is a sum of entry hashes (`summary_hash`): 17 bytes in
all, so that it differs from the 16-byte `digest_hash` older peers send and expect. An older
peer handed one finds it unequal to its own and answers with its digest, as on any change."""


def digest_hash(entries: Iterable[DigestEntry]) -> bytes:
    """A 16-byte hash of a whole digest, the same for the same entries in any order: what
    peers before `summary_hash` send (it costs a sort of every member)."""
    ordered = sorted(entries, key=_name)
    return hashlib.blake2b(encode(ordered), digest_size=16).digest()


def summary_hash(digest_sum: int) -> bytes:
    """The summary hash of a table whose entry hashes add up to `digest_sum`
    (`MemberTable.digest_sum`, kept up to date as members change)."""
    return SUM_TAG + digest_sum.to_bytes(16, "big")


def _sync_entry(c: MemberColumns, i: int) -> SyncEntry:
    record = raw_record(c.record[i])
    return SyncEntry(c.ids.names[i], c.address[i], c.gen[i], c.inc[i], STATES[c.state[i]],
                     c.rv[i], record)  # fmt: skip


def _name(entry: DigestEntry) -> str:
    return entry.name


class StateExchange:
    """Push/pull between this node and one peer at a time: the periodic exchange (a hash
    first), joins through seeds (retried with backoff until answered), and merging the
    entries a peer sends (memberlist's mergeState)."""

    def __init__(self, core: Core, out: Dissemination, states: StateMachine) -> None:
        self._core = core
        self._out = out
        self._states = states
        self._joins: dict[str, float] = {}
        """Seeds not yet answered, with their next retry delay."""
        self.chunk_budget = core.config.max_frame_bytes - out.codec.overhead - 512

    def start(self) -> None:
        """First exchange at a random phase, so peers started together do not exchange in
        step."""
        core = self._core
        interval = core.config.pushpull_interval
        core.timers.at(core.now + core.rng.uniform(0.1, 1.0) * interval, self._tick)

    def stop_joining(self) -> None:
        self._joins.clear()

    def join(self, addresses: Iterable[str]) -> None:
        core = self._core
        for addr in addresses:
            if addr == core.me.address or addr in self._joins:
                continue
            self._joins[addr] = core.config.join_retry_interval
            self._send_digest(addr)
            core.timers.at(core.now + core.config.join_retry_interval, self._join_retry, addr)

    def _join_retry(self, addr: str) -> None:
        core = self._core
        delay = self._joins.get(addr)
        if delay is None or core.leaving:
            return
        if any(m.address == addr and m.state is MemberState.ALIVE for m in core.table.peers):
            del self._joins[addr]
            return
        self._send_digest(addr)
        delay = self._joins[addr] = min(delay * 2, core.config.pushpull_interval)
        core.timers.at(core.now + delay, self._join_retry, addr)

    def _send_digest(self, addr: str) -> None:
        for msg in digest_messages(self._core.table.digest(), self.chunk_budget):
            self._out.send(addr, [msg])

    def _send_entries(self, addr: str, names: Iterable[str]) -> None:
        table = self._core.table
        c = table.columns
        entries = [_sync_entry(c, i) for name in names if (i := table.find_id(name)) is not None]
        # Always answer (an empty Sync at least), so a joiner knows its seed is there.
        for chunk in chunked(entries, self.chunk_budget) if entries else [[]]:
            self._out.send(addr, [Sync(tuple(chunk))])

    def _tick(self) -> None:
        core = self._core
        if core.leaving:
            return
        core.timers.at(core.now + core.config.pushpull_period(core.table.live), self._tick)
        peers = core.table.sample(1, lambda m: m.state is MemberState.ALIVE)
        if peers:
            summary = Summary(len(core.table), summary_hash(core.table.digest_sum()))
            self._out.send(peers[0].address, [summary])

    def handle_summary(self, env: Envelope, summary: Summary) -> None:
        if summary.members != len(self._core.table) or summary.hash != self._hash_like(summary):
            self._send_digest(env.addr)

    def _hash_like(self, summary: Summary) -> bytes:
        """Our hash, of the kind `summary` carries (an older peer's is a `digest_hash`)."""
        table = self._core.table
        if len(summary.hash) == len(SUM_TAG) + 16 and summary.hash.startswith(SUM_TAG):
            return summary_hash(table.digest_sum())
        return digest_hash(table.digest())

    def _exchange(self, addr: str) -> None:
        if not self._core.leaving:
            self._send_digest(addr)

    def handle_pushpull(self, env: Envelope, pp: PushPull) -> None:
        mine = {e.name: e for e in self._core.table.digest()}
        give, want = compare(mine, pp)
        self._send_entries(env.addr, give)
        if want:
            self._out.send(env.addr, [Want(want)])

    def handle_want(self, env: Envelope, w: Want) -> None:
        self._send_entries(env.addr, w.names)

    def handle_sync(self, env: Envelope, sync: Sync) -> None:
        """memberlist's mergeState: remote dead becomes local suspect (never dead at once).

        Gossiping on every merged entry (as memberlist does) would make each joiner flood the
        cluster with old news. Instead: an entry about the sender itself is first-hand news
        and is gossiped; third-party news is gossiped only when it is news to the larger side,
        i.e. it taught us fewer new members than half of those we already knew; and if the
        exchange taught us any new members we were cut off from them, so they likely never
        heard of us either: we re-announce ourselves.
        """
        core, states = self._core, self._states
        if self._joins.pop(env.addr, None) is not None:
            core.timers.at(core.now + core.config.join_followup, self._exchange, env.addr)
        table = core.table
        known = len(table)
        new = sum(1 for e in sync.entries if e.name not in table)
        news = 2 * new < known
        for e in sync.entries:
            if e.state is MemberState.ALIVE:
                alive = Alive(e.name, e.addr, e.gen, e.inc, e.rv, e.record)
                states.handle_alive(None, alive, rebroadcast=news or e.name == env.sender)
                continue
            if e.state is MemberState.LEFT:
                states.on_dead(Left(e.name, e.gen, e.inc))
            else:
                # The sender's claim, not ours: it must not count as our own confirmation.
                states.on_suspect(Suspect(e.name, e.gen, e.inc, env.sender))
            m = table.get(e.name)
            if m is not None and m != core.me and m.gen == e.gen and e.rv > m.rv:
                states.set_record(m, e.rv, states.resolve(e.name, e.gen, e.rv, e.record))
        if len(table) > known and not core.leaving:
            self._out.broadcast_self()

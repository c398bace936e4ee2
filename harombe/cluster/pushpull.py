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

from harombe.cluster.messages import DigestEntry, PushPull, SyncEntry, encode, encoded_size
from harombe.cluster.state import MemberState

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


def digest_hash(entries: Iterable[DigestEntry]) -> bytes:
    """A 16-byte hash of a whole digest, the same for the same entries in any order."""
    ordered = sorted(entries, key=_name)
    return hashlib.blake2b(encode(ordered), digest_size=16).digest()


def _name(entry: DigestEntry) -> str:
    return entry.name

"""Transmit-limited broadcast queue: what gets piggybacked on outgoing frames.

Like memberlist's TransmitLimitedQueue: one entry per subject (a newer message about a node
replaces the older one), least-transmitted first (fresh news first), each entry dropped after
`limit` sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_MIN_SIZE = 8  # no broadcast is smaller: stop filling below this
_MAX_SCAN = 64  # bound the work per frame when the queue is long
_MAX_MISSES = 8  # ... and stop looking for one that fits after this many in a row do not


@dataclass(slots=True)
class Broadcast:
    key: str
    msg: list[Any]
    size: int
    limit: int | None = None
    """Sends before it is dropped; None: the limit given to take()."""
    transmits: int = 0


class BroadcastQueue:
    def __init__(self, max_items: int) -> None:
        self.max_items = max_items
        self._by_key: dict[str, Broadcast] = {}
        # Buckets by transmit count; dict order is insertion order, newest last.
        self._buckets: list[dict[str, Broadcast]] = [{}]

    def __len__(self) -> int:
        return len(self._by_key)

    def get(self, key: str) -> Broadcast | None:
        return self._by_key.get(key)

    def queue(self, key: str, msg: list[Any], size: int, limit: int | None = None) -> None:
        """Queue msg about `key`, invalidating any older message about it; `limit` overrides
        take()'s retransmit limit for this message."""
        self._remove(key)
        item = Broadcast(key, msg, size, limit)
        self._by_key[key] = item
        self._buckets[0][key] = item
        if len(self._by_key) > self.max_items:
            self._evict_most_sent()

    def take(self, budget: int, limit: int, max_count: int) -> list[list[Any]]:
        """Messages that fit in `budget` bytes (at most `max_count`), least sent first; each
        counts as sent once more, and is dropped once it has been sent `limit` times."""
        out: list[list[Any]] = []
        picked: list[Broadcast] = []
        scanned = misses = 0
        for bucket in self._buckets:
            for item in reversed(bucket.values()):
                if (
                    len(out) >= max_count
                    or budget < _MIN_SIZE
                    or scanned >= _MAX_SCAN
                    or misses >= _MAX_MISSES
                ):
                    break
                scanned += 1
                if item.size <= budget:
                    budget -= item.size
                    out.append(item.msg)
                    picked.append(item)
                    misses = 0
                else:
                    misses += 1
            else:
                continue
            break
        for item in picked:
            self._move(item, item.transmits + 1, limit)
        return out

    def _move(self, item: Broadcast, transmits: int, limit: int) -> None:
        del self._buckets[item.transmits][item.key]
        if transmits >= (limit if item.limit is None else item.limit):
            del self._by_key[item.key]
            return
        item.transmits = transmits
        while len(self._buckets) <= transmits:
            self._buckets.append({})
        self._buckets[transmits][item.key] = item

    def _remove(self, key: str) -> None:
        old = self._by_key.pop(key, None)
        if old is not None:
            del self._buckets[old.transmits][key]

    def _evict_most_sent(self) -> None:
        for bucket in reversed(self._buckets):
            if bucket:
                self._remove(next(iter(bucket)))
                return

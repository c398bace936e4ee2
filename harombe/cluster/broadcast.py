"""Transmit-limited broadcast queue: what gets piggybacked on outgoing frames.

Like memberlist's TransmitLimitedQueue: one entry per subject (a newer message about a node
replaces the older one), least-transmitted first (fresh news first), each entry dropped after
`limit` sends.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

from msgspec import Struct

_MIN_SIZE = 8  # no broadcast is smaller: stop filling below this
_MAX_SCAN = 64  # bound the work per frame when the queue is long
_MAX_MISSES = 3  # ... and stop looking for one that fits after this many in a row do not


@dataclass(slots=True)
class Broadcast:
    key: str
    msg: Struct
    size: int
    limit: int | None = None
    """Sends before it is dropped; None: the limit given to take()."""
    transmits: int = 0


class BroadcastQueue:
    """Broadcasts in stacks by transmit count (newest on top): take() pops from the least
    sent stack down, so its cost is the items it looks at, not the queue's length. An item
    replaced or evicted stays in its stack as a stale entry, skipped when met and swept out
    when stale entries outnumber live ones."""

    def __init__(self, max_items: int) -> None:
        self.max_items = max_items
        self._by_key: dict[str, Broadcast] = {}
        self._stacks: list[collections.deque[Broadcast]] = [collections.deque()]
        self._stale = 0

    def __len__(self) -> int:
        return len(self._by_key)

    def get(self, key: str) -> Broadcast | None:
        return self._by_key.get(key)

    def queue(self, key: str, msg: Struct, size: int, limit: int | None = None) -> None:
        """Queue msg about `key`, invalidating any older message about it; `limit` overrides
        take()'s retransmit limit for this message."""
        self._remove(key)
        item = Broadcast(key, msg, size, limit)
        self._by_key[key] = item
        self._stacks[0].append(item)
        if len(self._by_key) > self.max_items:
            self._evict_most_sent()

    def take(self, budget: int, limit: int, max_count: int) -> list[Struct]:
        """Messages that fit in `budget` bytes (at most `max_count`), least sent first; each
        counts as sent once more, and is dropped once it has been sent `limit` times."""
        out: list[Struct] = []
        picked: list[Broadcast] = []
        by_key = self._by_key
        scan_left, take_left = _MAX_SCAN, max_count
        misses = 0
        for transmits, stack in enumerate(self._stacks):
            skipped: list[Broadcast] = []
            while (
                stack and scan_left and take_left and budget >= _MIN_SIZE and misses < _MAX_MISSES
            ):
                item = stack.pop()
                if item.transmits != transmits or by_key.get(item.key) is not item:
                    self._stale -= 1
                    continue
                scan_left -= 1
                if item.size <= budget:
                    budget -= item.size
                    take_left -= 1
                    out.append(item.msg)
                    picked.append(item)
                    misses = 0
                else:
                    skipped.append(item)
                    misses += 1
            if skipped:
                stack.extend(reversed(skipped))
            if not (scan_left and take_left) or budget < _MIN_SIZE or misses >= _MAX_MISSES:
                break
        stacks = self._stacks
        for item in picked:
            sent = item.transmits = item.transmits + 1
            if sent >= (limit if item.limit is None else item.limit):
                del by_key[item.key]
                continue
            if len(stacks) <= sent:
                stacks.append(collections.deque())
            stacks[sent].append(item)
        return out

    def _live(self, item: Broadcast, transmits: int) -> bool:
        return item.transmits == transmits and self._by_key.get(item.key) is item

    def _remove(self, key: str) -> None:
        if self._by_key.pop(key, None) is not None:
            self._stale += 1
            if self._stale > 64 + len(self._by_key):
                self._sweep()

    def _sweep(self) -> None:
        for transmits, stack in enumerate(self._stacks):
            live = [item for item in stack if self._live(item, transmits)]
            stack.clear()
            stack.extend(live)
        self._stale = 0

    def _evict_most_sent(self) -> None:
        """Drop the oldest of the most sent broadcasts."""
        for transmits in range(len(self._stacks) - 1, -1, -1):
            stack = self._stacks[transmits]
            while stack:
                item = stack.popleft()
                if self._live(item, transmits):
                    del self._by_key[item.key]
                    return
                self._stale -= 1

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
    stale: bool = False
    """Replaced or evicted: skipped (and dropped) when its stack reaches it."""


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
        picked: list[Broadcast] = []
        by_key = self._by_key
        scan_left, take_left = _MAX_SCAN, max_count
        misses = 0
        for stack in self._stacks:
            skipped: list[Broadcast] = []
            while (
                stack and scan_left and take_left and budget >= _MIN_SIZE and misses < _MAX_MISSES
            ):
                item = stack.pop()
                if item.stale:
                    self._stale -= 1
                    continue
                scan_left -= 1
                if item.size <= budget:
                    budget -= item.size
                    take_left -= 1
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
        out = [item.msg for item in picked]
        for item in picked:
            sent = item.transmits = item.transmits + 1
            if sent >= (limit if item.limit is None else item.limit):
                del by_key[item.key]
                item.stale = True
                continue
            if len(stacks) <= sent:
                stacks.append(collections.deque())
            stacks[sent].append(item)
        return out

    def _remove(self, key: str) -> None:
        item = self._by_key.pop(key, None)
        if item is not None:
            item.stale = True
            self._stale += 1
            if self._stale > 64 + len(self._by_key):
                self._sweep()

    def _sweep(self) -> None:
        for stack in self._stacks:
            live = [item for item in stack if not item.stale]
            stack.clear()
            stack.extend(live)
        self._stale = 0

    def _evict_most_sent(self) -> None:
        """Drop the oldest of the most sent broadcasts."""
        for stack in reversed(self._stacks):
            while stack:
                item = stack.popleft()
                if not item.stale:
                    del self._by_key[item.key]
                    item.stale = True
                    return
                self._stale -= 1

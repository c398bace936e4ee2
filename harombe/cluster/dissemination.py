"""Getting news out: frames to one peer with queued broadcasts piggybacked, and gossip rounds
that carry the queue to a few random peers while it holds anything (SWIM's dissemination,
memberlist's transmit-limited queue).

Load updates have a queue of their own, drained after all other news and within a per-peer
byte budget (`load_gossip_bytes` a second): a node's newer load replaces its older one in the
queue, so when many nodes are busy, load news grows staler instead of traffic growing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from msgspec import Raw

from harombe.cluster.broadcast import BroadcastQueue
from harombe.cluster.codec import FrameCodec
from harombe.cluster.core import Core
from harombe.cluster.members import Member
from harombe.cluster.messages import NO_RECORD, Alive, Load, Message, encoded_size
from harombe.cluster.record import NodeRecord
from harombe.cluster.timers import Timer

log = logging.getLogger("harombe.cluster.membership")

_MIN_LOAD_BYTES = 16
"""No load message is smaller: below this much budget, none is taken."""


def raw_record(record: NodeRecord | None) -> Raw:
    return NO_RECORD if record is None else record.raw()


class ByteBudget:
    """A token bucket: `rate` bytes a second, at most one second's worth saved up."""

    __slots__ = ("_last", "_tokens", "rate")

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self._tokens = rate
        self._last = now

    def available(self, now: float) -> float:
        if now > self._last:
            self._tokens = min(self.rate, self._tokens + (now - self._last) * self.rate)
            self._last = now
        return self._tokens

    def spend(self, n: int) -> None:
        self._tokens -= n


class Dissemination:
    def __init__(self, core: Core, codec: FrameCodec, send: Callable[[str, bytes], None]) -> None:
        """`send(address, data)` is best effort and may drop."""
        self._core = core
        self.codec = codec
        self._send_fn = send
        self.queue = BroadcastQueue(core.config.broadcast_queue_max)
        self.loads = BroadcastQueue(core.config.broadcast_queue_max)
        """Load updates, one per node (the newest), sent within `_load_budget`."""
        self._load_budget = ByteBudget(core.config.load_gossip_bytes, core.now)
        self._gossip_timer: Timer | None = None
        self._last_gossip = float("-inf")

    def send(self, addr: str, msgs: list[Message], *, piggyback: bool = True) -> None:
        """A frame of `msgs` to `addr`, topped up with queued broadcasts that fit."""
        out: list[Message] = list(msgs)
        config = self._core.config
        if piggyback and len(self.queue):
            room = config.max_frame_bytes - self.codec.overhead - encoded_size(msgs)
            out += self.queue.take(
                min(config.piggyback_bytes, room),
                config.retransmit_limit(self._core.table.live),
                config.max_frame_messages - len(out),
            )
        if piggyback and len(self.loads):
            room = config.max_frame_bytes - self.codec.overhead - encoded_size(out)
            out += self._take_loads(min(config.piggyback_bytes, room), len(out), 0)
        self._send_wire(addr, out)

    def _take_loads(self, room: int, count: int, overhead: int) -> list[Message]:
        """Load updates for a frame that has `room` bytes left and `count` messages; the
        frame's `overhead` is charged to the load budget too when it carries load alone."""
        if not len(self.loads):
            return []
        core = self._core
        config = core.config
        budget = self._load_budget.available(core.now) - overhead
        if budget < _MIN_LOAD_BYTES:
            return []
        taken = self.loads.take(
            int(min(room, budget)),
            config.load_retransmit_limit(core.table.live),
            config.max_frame_messages - count,
        )
        if taken:
            self._load_budget.spend(overhead + encoded_size(taken))
        return taken

    def _send_wire(self, addr: str, msgs: list[Message]) -> None:
        data = self.codec.encode(msgs)
        stats = self._core.stats
        stats.frames_sent += 1
        stats.bytes_sent += len(data)
        try:
            self._send_fn(addr, data)
        except Exception:
            log.exception("membership: send to %s failed", addr)
            stats.send_errors += 1

    def broadcast(self, key: str, msg: Message, limit: int | None = None) -> None:
        """Queue `msg` as the news about `key` (replacing older news about it) and make sure
        a gossip round is due."""
        self.queue.queue(key, msg, encoded_size(msg), limit)
        self._schedule_gossip()

    def _schedule_gossip(self) -> None:
        if self._gossip_timer is None:
            core = self._core
            when = max(core.now, self._last_gossip + core.config.gossip_interval)
            self._gossip_timer = core.timers.at(when, self.gossip_tick)

    def broadcast_self(self, *, with_record: bool = True) -> None:
        me = self._core.me
        record = raw_record(me.record) if with_record else NO_RECORD
        self.broadcast(me.name, Alive(me.name, me.address, me.gen, me.inc, me.rv, record))

    def broadcast_load(self, msg: Load) -> None:
        """Queue `msg` as the load news about its node, replacing any older load news."""
        self.loads.queue(msg.name, msg, encoded_size(msg))
        self._schedule_gossip()

    def gossip_ok(self, m: Member) -> bool:
        """Gossip goes to live members and, for a while, to the recently dead (they may only
        be cut off, and must hear the claim to refute it)."""
        core = self._core
        return not m.state.gone or core.now - m.state_since < core.config.gossip_to_dead_time

    def gossip_now(self) -> None:
        """A gossip round at once (on leave), whatever was scheduled."""
        if self._gossip_timer is not None:
            self._gossip_timer.cancel()
            self._gossip_timer = None
        self.gossip_tick()

    def gossip_tick(self) -> None:
        core = self._core
        config = core.config
        self._gossip_timer = None
        self._last_gossip = core.now
        if not (len(self.queue) or len(self.loads)):
            return
        limit = config.retransmit_limit(core.table.live)
        targets = core.table.sample(config.gossip_nodes, self.gossip_ok)
        for target in targets:
            wire = self.queue.take(config.piggyback_bytes, limit, config.max_frame_messages)
            room = config.piggyback_bytes - encoded_size(wire)
            wire += self._take_loads(room, len(wire), 0 if wire else self.codec.overhead)
            if not wire:
                break
            self._send_wire(target.address, wire)
        if targets and (len(self.queue) or len(self.loads)):
            self._gossip_timer = core.timers.at(core.now + config.gossip_interval, self.gossip_tick)

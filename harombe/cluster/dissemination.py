"""Getting news out: frames to one peer with queued broadcasts piggybacked, and gossip rounds
that carry the queue to a few random peers while it holds anything (SWIM's dissemination,
memberlist's transmit-limited queue)."""

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


def raw_record(record: NodeRecord | None) -> Raw:
    return NO_RECORD if record is None else record.raw()


class Dissemination:
    def __init__(self, core: Core, codec: FrameCodec, send: Callable[[str, bytes], None]) -> None:
        """`send(address, data)` is best effort and may drop."""
        self._core = core
        self.codec = codec
        self._send_fn = send
        self.queue = BroadcastQueue(core.config.broadcast_queue_max)
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
        self._send_wire(addr, out)

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
        if self._gossip_timer is None:
            core = self._core
            when = max(core.now, self._last_gossip + core.config.gossip_interval)
            self._gossip_timer = core.timers.at(when, self.gossip_tick)

    def broadcast_self(self, *, with_record: bool = True) -> None:
        me = self._core.me
        record = raw_record(me.record) if with_record else NO_RECORD
        self.broadcast(me.name, Alive(me.name, me.address, me.gen, me.inc, me.rv, record))

    def broadcast_load(self, msg: Load) -> None:
        limit = self._core.config.load_retransmit_limit(self._core.table.live)
        self.broadcast("load:" + msg.name, msg, limit)

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
        if not len(self.queue):
            return
        limit = config.retransmit_limit(core.table.live)
        targets = core.table.sample(config.gossip_nodes, self.gossip_ok)
        for target in targets:
            wire = self.queue.take(config.piggyback_bytes, limit, config.max_frame_messages)
            if not wire:
                break
            self._send_wire(target.address, wire)
        if targets and len(self.queue):
            self._gossip_timer = core.timers.at(core.now + config.gossip_interval, self.gossip_tick)

"""SWIM membership with the Lifeguard refinements, as a sans-I/O state machine.

Nothing here reads a clock or touches a socket: every entry point takes `now` (seconds, any
monotonic origin: loop.time() in harombed, virtual time in sim/), frames go out through the
`send(address, data)` callable, and the generation and the wall clock (replay stamps) are
handed in. `tick(now)` runs whatever is due and returns the next deadline.

`Membership` is the facade over the parts, one concern each:
- members.py: per-member state and the table of members;
- transitions.py: alive/suspect/dead/left transitions, refutation, suspicion timeouts;
- probing.py: the failure detector (direct and indirect probes, acks, nacks, relays);
- dissemination.py: piggybacked broadcasts and gossip rounds;
- pushpull.py: anti-entropy exchanges and joins;
- codec.py and messages.py: frames on the wire; core.py: what the parts share.
This module publishes the local record and routes each received message to its part.
Load-only record changes travel as small Load messages with fewer retransmits (_publish).
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from harombe.cluster.codec import Envelope, FrameCodec, FrameError
from harombe.cluster.columns import MemberIds
from harombe.cluster.config import MembershipConfig
from harombe.cluster.core import Core, MembershipStats
from harombe.cluster.dissemination import Dissemination
from harombe.cluster.members import Member, MemberSnapshot, MemberView
from harombe.cluster.messages import (
    Ack,
    Alive,
    Dead,
    Left,
    Load,
    Nack,
    Ping,
    PingReq,
    PushPull,
    Summary,
    Suspect,
    Sync,
    Want,
)
from harombe.cluster.probing import Prober
from harombe.cluster.pushpull import StateExchange
from harombe.cluster.record import NodeLoad, NodeRecord, only_load_changed, quantize
from harombe.cluster.record_cache import RecordCache
from harombe.cluster.replay import ReplayGuard
from harombe.cluster.state import MemberState
from harombe.cluster.timers import Timer
from harombe.cluster.transitions import StateMachine

__all__ = ["MemberState", "MemberView", "Membership", "MembershipStats"]

log = logging.getLogger(__name__)


def _no_wall_clock() -> float:
    """Frames of a keyless cluster carry no meaningful timestamp (nothing checks it)."""
    return 0.0


class Membership:
    def __init__(
        self,
        config: MembershipConfig,
        *,
        name: str,
        address: str,
        record: NodeRecord,
        send: Callable[[str, bytes], None],
        now: float,
        generation: int,
        rng: random.Random | None = None,
        label: str = "harombe",
        keyring: Sequence[bytes] = (),
        wall_clock: Callable[[], float] | None = None,
        records: RecordCache | None = None,
        ids: MemberIds | None = None,
    ) -> None:
        """`send(address, data)` is best effort and may drop. `generation` orders this run
        of the node after its earlier ones (harombed: its start time in ms). `wall_clock`
        stamps frames for the replay check, required with a keyring; peers' clocks must agree
        within `config.replay_window`. `records`: where decoded records are kept (default: a
        cache of this node's own); instances in one process may share one, and likewise
        `ids`, the registry of member ids (columns.MemberIds)."""
        _check_record(record, name, address, config.max_record_bytes)
        if keyring and wall_clock is None:
            raise ValueError("a keyed membership needs a wall_clock for its replay stamps")
        self.config = config
        self.name = name
        self.address = address
        self.label = label
        records = RecordCache() if records is None else records
        own = records.put(name, generation, 1, quantize(record, config.load_digits))
        me = Member(name, address, generation, 0, MemberState.ALIVE, now, own, 1, now)
        core = self._core = Core(config, me, rng=rng or random.Random(), records=records, ids=ids)
        self.stats = core.stats
        self.on_change = core.on_change
        self.on_record = core.on_record
        codec = FrameCodec(
            sender=name,
            addr=address,
            gen=generation,
            label=label,
            keyring=keyring,
            max_frame_bytes=config.max_frame_bytes,
            max_messages=config.max_frame_messages,
            replay=ReplayGuard(
                config.replay_window, config.replay_cache_per_sender, config.replay_max_senders
            ),
            wall_clock=wall_clock or _no_wall_clock,
        )
        out = self._out = Dissemination(core, codec, send)
        self._queue = out.queue
        states = self._states = StateMachine(core, out)
        self._prober = Prober(core, out, states.on_suspect)
        self._exchange = StateExchange(core, out, states)
        self._handlers: dict[type, Callable[[Envelope, Any], None]] = {
            Ping: self._prober.handle_ping,
            PingReq: self._prober.handle_ping_req,
            Ack: self._prober.handle_ack,
            Nack: self._prober.handle_nack,
            Alive: states.handle_alive,
            Load: states.handle_load,
            Suspect: states.handle_suspect,
            Dead: states.handle_dead,
            Left: states.handle_left,
            PushPull: self._exchange.handle_pushpull,
            Summary: self._exchange.handle_summary,
            Want: self._exchange.handle_want,
            Sync: self._exchange.handle_sync,
        }
        self._last_lag_bump = -math.inf
        self._last_publish = now
        self._pending_record: NodeRecord | None = None
        self._record_timer: Timer | None = None
        out.broadcast_self()
        self._prober.start()
        self._exchange.start()

    # ---- public API ------------------------------------------------------------------

    @property
    def generation(self) -> int:
        return self._core.me.gen

    @property
    def incarnation(self) -> int:
        return self._core.me.inc

    @property
    def health(self) -> int:
        """Local-health score (0 healthy .. awareness_max_multiplier - 1)."""
        return self._core.awareness.score

    @property
    def leaving(self) -> bool:
        return self._core.leaving

    @property
    def leave_propagated(self) -> bool:
        """After leave(): True once the 'left' message has gone out in enough gossip rounds
        (config.leave_transmits), or nobody is left to tell."""
        pending = self._queue.get(self.name)
        return (
            not self._core.leaving
            or pending is None
            or pending.transmits >= self.config.leave_transmits
            or not any(self._out.gossip_ok(m) for m in self._core.table.peers)
        )

    def receive(self, data: bytes, now: float) -> bool:
        """Decode, verify and handle one frame. Bad frames are dropped and counted by reason
        in stats.dropped (and logged once per drop_log_interval); nothing raises. False when
        the frame is not a cluster member's (it failed the codec: MAC, label, replay, ...)."""
        core = self._core
        self._advance(now)
        core.stats.frames_received += 1
        core.stats.bytes_received += len(data)
        try:
            env = self._out.codec.decode(data)
        except FrameError as exc:
            core.drops.drop(exc.reason)
            return False
        if env.sender == self.name:
            core.drops.drop("from_self")
            return True
        try:
            news = self._states.news(env)
        except ValueError:
            core.drops.drop("malformed")
            return True
        try:
            for msg in news:
                self._handlers[type(msg)](env, msg)
            self._states.tell_accused(env)
        except Exception as exc:
            core.drops.drop("internal_error")
            log.debug("membership: error handling a frame from %s: %r", env.sender, exc)
        finally:
            self._states.done()
        return True

    def tick(self, now: float) -> float:
        """Run all work due at `now`; return the absolute time of the next deadline."""
        self._advance(now)
        self._core.timers.run_due(self._core.now)
        return self.next_deadline()

    def next_deadline(self) -> float:
        deadline = self._core.timers.next_deadline()
        return deadline if deadline != math.inf else self._core.now + self.config.probe_interval

    def join(self, addresses: Iterable[str], now: float) -> None:
        """Exchange state with each address (seeds). A join is retried with backoff (capped
        at pushpull_interval) until that address answers or a live member has it. Calling
        again for a pending address does nothing."""
        self._advance(now)
        self._exchange.join(addresses)

    def adopt(self, members: Iterable[Alive], now: float) -> None:
        """Take `members` as alive, as a join would teach them but without one and without
        gossiping them: for a node handed a snapshot of a converged cluster (the simulator's
        converged start). Members already known are updated as by any alive message."""
        self._advance(now)
        for alive in members:
            self._states.handle_alive(None, alive, rebroadcast=False)

    def snapshot(self, now: float) -> MemberSnapshot:
        """The members this node holds alive, for nodes sharing its id registry to
        `adopt_snapshot` (the simulator's converged start)."""
        self._advance(now)
        return MemberSnapshot(self._core.table, self._core.rng, self._core.now)

    def adopt_snapshot(self, snapshot: MemberSnapshot, now: float) -> None:
        """Take every member of `snapshot` as alive, as `adopt` would, without handling a
        message per member and without telling on_change listeners (the caller knows what
        the node learnt: every member of the snapshot). Only for a node that knows no other
        member yet; ValueError otherwise."""
        self._advance(now)
        self._core.table.adopt(snapshot)

    def leave(self, now: float) -> None:
        """Graceful leave: broadcast LEFT, stop probing. Others mark us LEFT, not DEAD."""
        self._advance(now)
        core = self._core
        if core.leaving:
            return
        core.leaving = True
        self._exchange.stop_joining()
        me = core.me
        self._states.set_state(me, MemberState.LEFT)
        self._out.broadcast(self.name, Left(self.name, me.gen, me.inc))
        self._out.gossip_now()

    def update_record(self, record: NodeRecord, now: float) -> None:
        """Publish a new local record. A change of anything but load goes out at once, as the
        whole record. A load-only change (active, queue, tps, ttft; tps/ttft quantized first)
        goes out as a small Load message, at most once per load_min_interval."""
        self._advance(now)
        _check_record(record, self.name, self.address, self.config.max_record_bytes)
        record = quantize(record, self.config.load_digits)
        current = self._core.me.record
        if record == current:
            self._pending_record = None
            return
        if current is None or not only_load_changed(current, record):
            self._publish(record, load_only=False)
            return
        due = self._last_publish + self.config.load_min_interval
        if self._core.now < due:
            self._pending_record = record
            if self._record_timer is None:
                self._record_timer = self._core.timers.at(due, self._publish_pending)
            return
        self._publish(record, load_only=True)

    def note_loop_lag(self, lag: float) -> None:
        """Event-loop lag (seconds late) of the driver; a lagging loop makes this node slower
        to accuse others (raises the health score, once per probe interval at most)."""
        core = self._core
        if lag > self.config.loop_lag_threshold:
            if core.now - self._last_lag_bump >= self.config.probe_interval:
                self._last_lag_bump = core.now
                core.awareness.apply(1)

    def members(self) -> list[MemberView]:
        return [self._core.view(m) for m in self._core.table]

    def get(self, name: str) -> MemberView | None:
        m = self._core.table.get(name)
        return self._core.view(m) if m else None

    def alive_count(self) -> int:
        """Members in state ALIVE, this node included."""
        return self._core.table.count(MemberState.ALIVE)

    # ---- internals ---------------------------------------------------------------------

    def _advance(self, now: float) -> None:
        if now > self._core.now:
            self._core.now = now

    def _publish(self, record: NodeRecord, *, load_only: bool) -> None:
        core = self._core
        me = core.me
        me.rv += 1
        me.record = core.records.put(me.name, me.gen, me.rv, record)
        if not load_only:
            core.base_rv = me.rv
        me.last_update = core.now
        self._last_publish = core.now
        self._pending_record = None
        if self._record_timer is not None:
            self._record_timer.cancel()
            self._record_timer = None
        core.record_changed(me)
        if core.leaving:
            return
        if load_only:
            load = Load(me.name, me.gen, me.rv, core.base_rv, NodeLoad.of(record))
            self._out.broadcast_load(load)
        else:
            self._out.broadcast_self()

    def _publish_pending(self) -> None:
        """Only load-only changes wait; any other change publishes at once and clears this."""
        self._record_timer = None
        if self._pending_record is not None:
            self._publish(self._pending_record, load_only=True)


def _check_record(record: NodeRecord, name: str, address: str, max_bytes: int) -> None:
    if record.name != name or record.address != address:
        raise ValueError(
            f"record names {record.name!r} at {record.address!r}, expected {name!r} at {address!r}"
        )
    size = len(record.raw())
    if size > max_bytes:
        raise ValueError(f"record is {size} bytes encoded, more than max_record_bytes={max_bytes}")

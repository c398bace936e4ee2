"""SWIM membership with the Lifeguard refinements, as a sans-I/O state machine.

Nothing here reads a clock or touches a socket: every entry point takes `now` (seconds, any
monotonic origin: loop.time() in harombed, virtual time in sim/) and frames go out through the
`send(address, data)` callable. `tick(now)` runs whatever is due and returns the next deadline.

Semantics follow hashicorp/memberlist (state.go): alive/suspect/dead transitions ordered by
(generation, incarnation), refutation by incarnation bump, suspicion timeouts that shrink with
independent confirmations, local-health scaling of probes, transmit-limited piggybacked
broadcasts, push/pull anti-entropy (a hash first, digests only on a difference), tombstones and
graceful leave (LEFT, never DEAD).

Beyond memberlist, so that a node that is itself cut off (a flapping link) kills no one:
- suspicion timeouts also scale with the local health multiplier, and while scaled the
  suspicion is re-gossiped so the accused can still hear it and refute (_suspicion_expired);
- a suspicion merged from push/pull is the sender's claim, never our own confirmation;
- a frame from a peer we hold suspect or dead gets that claim back directly (_tell_accused).
Load-only record changes travel as small Load messages with fewer retransmits (_publish).
"""

from __future__ import annotations

import collections
import logging
import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from msgspec import Raw

from harombe.cluster.awareness import Awareness
from harombe.cluster.broadcast import BroadcastQueue
from harombe.cluster.codec import Envelope, FrameCodec, FrameError
from harombe.cluster.config import MembershipConfig
from harombe.cluster.drops import DropLog
from harombe.cluster.messages import (
    MAX_UINT,
    NO_RECORD,
    Ack,
    Alive,
    Dead,
    DigestEntry,
    Left,
    Load,
    Message,
    Nack,
    Ping,
    PingReq,
    PushPull,
    Summary,
    Suspect,
    Sync,
    SyncEntry,
    Want,
    encoded_size,
)
from harombe.cluster.pushpull import chunked, compare, digest_hash, digest_messages
from harombe.cluster.record import NodeLoad, NodeRecord, only_load_changed, quantize
from harombe.cluster.record_cache import RecordCache
from harombe.cluster.replay import ReplayGuard
from harombe.cluster.state import MemberState, precedence
from harombe.cluster.suspicion import Suspicion
from harombe.cluster.timers import Timer, Timers

__all__ = ["MemberState", "MemberView", "Membership", "MembershipStats"]

log = logging.getLogger(__name__)

ALIVE, SUSPECT, DEAD, LEFT = (
    MemberState.ALIVE,
    MemberState.SUSPECT,
    MemberState.DEAD,
    MemberState.LEFT,
)


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


@dataclass
class MembershipStats:
    frames_sent: int = 0
    frames_received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    dropped: collections.Counter[str] = field(default_factory=collections.Counter)
    """Dropped frames by reason: oversized, malformed, bad_version, wrong_label,
    unauthenticated, replayed, stale, unknown_type, from_self, internal_error."""
    send_errors: int = 0
    probes: int = 0
    probe_failures: int = 0
    indirect_probes: int = 0
    refutes: int = 0
    conflicts: int = 0


@dataclass(slots=True, eq=False)
class _Member:
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
    suspicion_timer: Timer | None = None
    told_at: float = -math.inf

    @property
    def key(self) -> tuple[int, int]:
        return precedence(self.gen, self.inc)


@dataclass(slots=True, eq=False)
class _Probe:
    target: _Member
    seq: int
    sent: float
    acked: bool = False
    expected_nacks: int = 0
    nacks: int = 0
    timeout_timer: Timer | None = None


@dataclass(slots=True, eq=False)
class _Relay:
    origin_addr: str
    origin_seq: int
    timer: Timer | None = None


_last_generation = 0


def _new_generation() -> int:
    """Start-time based (ms), strictly increasing within this process."""
    global _last_generation
    _last_generation = max(int(time.time() * 1000), _last_generation + 1)
    return _last_generation


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
        rng: random.Random | None = None,
        label: str = "harombe",
        keyring: Sequence[bytes] = (),
        generation: int | None = None,
        wall_clock: Callable[[], float] = time.time,
        records: RecordCache | None = None,
    ) -> None:
        """`send(address, data)` is best effort and may drop. `wall_clock` only stamps frames
        for the replay check (with a keyring); peers' clocks must agree within
        `config.replay_window`. `records`: where decoded records are kept (default: a cache of
        this node's own); instances in one process may share one."""
        _check_record(record, name, address, config.max_record_bytes)
        self.config = config
        self.name = name
        self.address = address
        self.label = label
        self.generation = _new_generation() if generation is None else generation
        self.stats = MembershipStats()
        self._drops = DropLog(self.stats.dropped, config.drop_log_interval)
        self.on_change: list[Callable[[MemberView, MemberState | None], None]] = []
        self.on_record: list[Callable[[MemberView], None]] = []
        self._send_fn = send
        self._rng = rng or random.Random()
        self._now = now
        self._awareness = Awareness(config.awareness_max_multiplier)
        self._records = RecordCache() if records is None else records
        self._vetted: dict[tuple[str, int, int], NodeRecord] = {}
        """Records validated for the frame being handled (see _news)."""
        self._queue = BroadcastQueue(config.broadcast_queue_max)
        self._timers = Timers()
        self._codec = FrameCodec(
            sender=name,
            addr=address,
            gen=self.generation,
            label=label,
            keyring=keyring,
            max_frame_bytes=config.max_frame_bytes,
            max_messages=config.max_frame_messages,
            replay=ReplayGuard(
                config.replay_window, config.replay_cache_per_sender, config.replay_max_senders
            ),
            wall_clock=wall_clock,
        )
        self._chunk_budget = config.max_frame_bytes - self._codec.overhead - 512
        own = self._records.put(name, self.generation, 1, quantize(record, config.load_digits))
        self._me = _Member(name, address, self.generation, 0, ALIVE, now, own, 1, now)
        self._members: dict[str, _Member] = {name: self._me}
        self._peers: list[_Member] = []
        self._peer_index: dict[str, int] = {}
        self._counts: collections.Counter[MemberState] = collections.Counter({ALIVE: 1})
        self._probe_order: list[str] = []
        self._probe_pos = 0
        self._probe: _Probe | None = None
        self._seq = 0
        self._relays: dict[int, _Relay] = {}
        self._joins: dict[str, float] = {}
        self._leaving = False
        self._gossip_timer: Timer | None = None
        self._last_gossip = -math.inf
        self._last_lag_bump = -math.inf
        self._last_publish = now
        self._base = self._me.rv
        """Record version of our last change of anything but load (see messages.Load)."""
        self._pending_record: NodeRecord | None = None
        self._record_timer: Timer | None = None
        self._broadcast_self()
        # Random phases, so peers started together do not probe and exchange in lockstep.
        self._timers.at(now + self._rng.uniform(0, config.probe_interval), self._probe_tick)
        self._timers.at(
            now + self._rng.uniform(0.1, 1.0) * config.pushpull_interval, self._pushpull_tick
        )

    # ---- public API ------------------------------------------------------------------

    @property
    def incarnation(self) -> int:
        return self._me.inc

    @property
    def health(self) -> int:
        """Local-health score (0 healthy .. awareness_max_multiplier - 1)."""
        return self._awareness.score

    @property
    def leaving(self) -> bool:
        return self._leaving

    @property
    def leave_propagated(self) -> bool:
        """After leave(): True once the 'left' message has gone out in enough gossip rounds
        (config.leave_transmits), or nobody is left to tell."""
        pending = self._queue.get(self.name)
        return (
            not self._leaving
            or pending is None
            or pending.transmits >= self.config.leave_transmits
            or not any(self._gossip_ok(m) for m in self._peers)
        )

    def receive(self, data: bytes, now: float) -> None:
        """Decode, verify and handle one frame. Bad frames are dropped and counted by reason
        in stats.dropped; nothing raises."""
        self._advance(now)
        self.stats.frames_received += 1
        self.stats.bytes_received += len(data)
        try:
            env = self._codec.decode(data)
        except FrameError as exc:
            self._drops.drop(exc.reason, self._now)
            return
        if env.sender == self.name:
            self._drops.drop("from_self", self._now, env.addr)
            return
        try:
            news = self._news(env)
        except ValueError:
            self._vetted.clear()
            self._drops.drop("malformed", self._now, f"a bad record from {env.sender}")
            return
        try:
            for msg in news:
                self._handlers[type(msg)](self, env, msg)
            self._tell_accused(env)
        except Exception as exc:
            self._drops.drop("internal_error", self._now, f"{exc!r} from {env.sender}")
        finally:
            self._vetted.clear()

    def tick(self, now: float) -> float:
        """Run all work due at `now`; return the absolute time of the next deadline."""
        self._advance(now)
        self._timers.run_due(self._now)
        return self.next_deadline()

    def next_deadline(self) -> float:
        deadline = self._timers.next_deadline()
        return deadline if deadline != math.inf else self._now + self.config.probe_interval

    def join(self, addresses: Iterable[str], now: float) -> None:
        """Exchange state with each address (seeds). A join is retried with backoff (capped
        at pushpull_interval) until that address answers or a live member has it. Calling
        again for a pending address does nothing."""
        self._advance(now)
        for addr in addresses:
            if addr == self.address or addr in self._joins:
                continue
            self._joins[addr] = self.config.join_retry_interval
            self._send_digest(addr)
            self._timers.at(self._now + self.config.join_retry_interval, self._join_retry, addr)

    def leave(self, now: float) -> None:
        """Graceful leave: broadcast LEFT, stop probing. Others mark us LEFT, not DEAD."""
        self._advance(now)
        if self._leaving:
            return
        self._leaving = True
        self._joins.clear()
        self._set_state(self._me, LEFT)
        self._broadcast(self.name, Left(self.name, self.generation, self._me.inc))
        if self._gossip_timer is not None:
            self._gossip_timer.cancel()
            self._gossip_timer = None
        self._gossip_tick()

    def update_record(self, record: NodeRecord, now: float) -> None:
        """Publish a new local record. A change of anything but load goes out at once, as the
        whole record. A load-only change (active, queue, tps, ttft; tps/ttft quantized first)
        goes out as a small Load message, at most once per load_min_interval."""
        self._advance(now)
        _check_record(record, self.name, self.address, self.config.max_record_bytes)
        record = quantize(record, self.config.load_digits)
        current = self._me.record
        if record == current:
            self._pending_record = None
            return
        if current is None or not only_load_changed(current, record):
            self._publish(record, load_only=False)
            return
        due = self._last_publish + self.config.load_min_interval
        if self._now < due:
            self._pending_record = record
            if self._record_timer is None:
                self._record_timer = self._timers.at(due, self._publish_pending)
            return
        self._publish(record, load_only=True)

    def note_loop_lag(self, lag: float) -> None:
        """Event-loop lag (seconds late) of the driver; a lagging loop makes this node slower
        to accuse others (raises the health score, once per probe interval at most)."""
        if lag > self.config.loop_lag_threshold:
            if self._now - self._last_lag_bump >= self.config.probe_interval:
                self._last_lag_bump = self._now
                self._awareness.apply(1)

    def members(self) -> list[MemberView]:
        return [self._view(m) for m in self._members.values()]

    def get(self, name: str) -> MemberView | None:
        m = self._members.get(name)
        return self._view(m) if m else None

    def alive_count(self) -> int:
        """Members in state ALIVE, this node included."""
        return self._counts[ALIVE]

    # ---- sending ---------------------------------------------------------------------

    def _advance(self, now: float) -> None:
        if now > self._now:
            self._now = now

    def _send(self, addr: str, msgs: list[Message], *, piggyback: bool = True) -> None:
        out: list[Message] = list(msgs)
        if piggyback and len(self._queue):
            room = self.config.max_frame_bytes - self._codec.overhead - encoded_size(msgs)
            budget = min(self.config.piggyback_bytes, room)
            out += self._queue.take(
                budget,
                self.config.retransmit_limit(self._live),
                self.config.max_frame_messages - len(out),
            )
        self._send_wire(addr, out)

    def _send_wire(self, addr: str, msgs: list[Message]) -> None:
        data = self._codec.encode(msgs)
        self.stats.frames_sent += 1
        self.stats.bytes_sent += len(data)
        try:
            self._send_fn(addr, data)
        except Exception:
            log.exception("membership: send to %s failed", addr)
            self.stats.send_errors += 1

    def _broadcast(self, key: str, msg: Message, limit: int | None = None) -> None:
        self._queue.queue(key, msg, encoded_size(msg), limit)
        if self._gossip_timer is None:
            when = max(self._now, self._last_gossip + self.config.gossip_interval)
            self._gossip_timer = self._timers.at(when, self._gossip_tick)

    def _broadcast_self(self, *, with_record: bool = True) -> None:
        me = self._me
        record = _raw(me.record) if with_record else NO_RECORD
        self._broadcast(me.name, Alive(me.name, me.address, me.gen, me.inc, me.rv, record))

    def _gossip_tick(self) -> None:
        self._gossip_timer = None
        self._last_gossip = self._now
        if not len(self._queue):
            return
        limit = self.config.retransmit_limit(self._live)
        targets = self._sample(self.config.gossip_nodes, self._gossip_ok)
        for target in targets:
            wire = self._queue.take(
                self.config.piggyback_bytes, limit, self.config.max_frame_messages
            )
            if not wire:
                break
            self._send_wire(target.address, wire)
        if targets and len(self._queue):
            self._gossip_timer = self._timers.at(
                self._now + self.config.gossip_interval, self._gossip_tick
            )

    # ---- peer sets -------------------------------------------------------------------

    @property
    def _live(self) -> int:
        return self._counts[ALIVE] + self._counts[SUSPECT]

    def _gossip_ok(self, m: _Member) -> bool:
        return not m.state.gone or self._now - m.state_since < self.config.gossip_to_dead_time

    def _sample(
        self, k: int, ok: Callable[[_Member], bool], exclude: _Member | None = None
    ) -> list[_Member]:
        """Up to k distinct random peers satisfying ok (O(k) on large clusters)."""
        peers = self._peers
        if len(peers) > 4 * k + 8:
            picked: dict[str, _Member] = {}
            for _ in range(4 * k):
                m = peers[int(self._rng.random() * len(peers))]
                if m is not exclude and ok(m):
                    picked[m.name] = m
                    if len(picked) == k:
                        return list(picked.values())
        candidates = [m for m in peers if m is not exclude and ok(m)]
        return self._rng.sample(candidates, min(k, len(candidates)))

    def _add_peer(self, m: _Member) -> None:
        self._members[m.name] = m
        self._peer_index[m.name] = len(self._peers)
        self._peers.append(m)
        self._counts[m.state] += 1
        order = self._probe_order
        order.insert(int(self._rng.random() * (len(order) + 1)), m.name)

    def _remove_peer(self, m: _Member) -> None:
        del self._members[m.name]
        i = self._peer_index.pop(m.name)
        last = self._peers.pop()
        if last is not m:
            self._peers[i] = last
            self._peer_index[last.name] = i
        self._counts[m.state] -= 1

    # ---- probing (SWIM failure detector with Lifeguard) ------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _next_probe_target(self) -> _Member | None:
        for _ in range(len(self._peers) + 1):
            if self._probe_pos >= len(self._probe_order):
                self._probe_order = [m.name for m in self._peers]
                self._rng.shuffle(self._probe_order)
                self._probe_pos = 0
                if not self._probe_order:
                    return None
            m = self._members.get(self._probe_order[self._probe_pos])
            self._probe_pos += 1
            if m is not None and not m.state.gone and m is not self._me:
                return m
        return None

    def _probe_tick(self) -> None:
        if self._leaving:
            return
        interval = self._awareness.scale(self.config.probe_interval)
        target = self._next_probe_target()
        if target is None:
            self._timers.at(self._now + interval, self._probe_tick)
            return
        probe = self._probe = _Probe(target, self._next_seq(), self._now)
        self.stats.probes += 1
        msgs: list[Message] = [Ping(probe.seq, target.name)]
        if target.state is SUSPECT:
            # Lifeguard's buddy system: tell the suspect directly so it can refute at once.
            msgs.append(Suspect(target.name, target.gen, target.inc, self.name))
        self._send(target.address, msgs)
        timeout = self._awareness.scale(self.config.probe_timeout)
        probe.timeout_timer = self._timers.at(self._now + timeout, self._probe_indirect, probe)
        self._timers.at(self._now + interval, self._probe_done, probe)

    def _probe_indirect(self, probe: _Probe) -> None:
        if probe.acked or self._probe is not probe:
            return
        target = probe.target
        helpers = self._sample(
            self.config.indirect_checks, lambda m: m.state is ALIVE, exclude=target
        )
        probe.expected_nacks = len(helpers)
        self.stats.indirect_probes += len(helpers)
        for helper in helpers:
            self._send(helper.address, [PingReq(probe.seq, target.name, target.address, True)])

    def _probe_done(self, probe: _Probe) -> None:
        if self._probe is probe:
            self._probe = None
        if not probe.acked:
            self.stats.probe_failures += 1
            # With helpers, only their missing nacks count against our own health: they are
            # assumed healthy, so silence from them points at us (Lifeguard).
            missed = probe.expected_nacks - probe.nacks if probe.expected_nacks else 1
            self._awareness.apply(max(missed, 0))
            target = probe.target
            if self._members.get(target.name) is target and not target.state.gone:
                self._on_suspect(Suspect(target.name, target.gen, target.inc, self.name))
        self._probe_tick()

    def _handle_ping(self, env: Envelope, msg: Ping) -> None:
        if msg.target != self.name:
            self._drops.drop("misdirected", self._now, env.sender)
            return
        self._send(env.addr, [Ack(msg.seq)])

    def _handle_ping_req(self, env: Envelope, msg: PingReq) -> None:
        seq = self._next_seq()
        relay = self._relays[seq] = _Relay(env.addr, msg.seq)
        self._send(msg.target_addr, [Ping(seq, msg.target)])
        wait = self.config.probe_timeout * self.config.nack_fraction
        relay.timer = self._timers.at(self._now + wait, self._relay_expired, seq, msg.nack)

    def _relay_expired(self, seq: int, nack: bool) -> None:
        relay = self._relays.pop(seq, None)
        if relay is not None and nack:
            self._send(relay.origin_addr, [Nack(relay.origin_seq)])

    def _handle_ack(self, env: Envelope, msg: Ack) -> None:
        probe = self._probe
        if probe is not None and msg.seq == probe.seq:
            if not probe.acked:
                probe.acked = True
                self._awareness.apply(-1)
                if env.sender == probe.target.name:
                    self._note_rtt(probe.target, self._now - probe.sent)
            return
        relay = self._relays.pop(msg.seq, None)
        if relay is not None:
            if relay.timer:
                relay.timer.cancel()
            self._send(relay.origin_addr, [Ack(relay.origin_seq)])

    def _handle_nack(self, env: Envelope, msg: Nack) -> None:
        if self._probe is not None and msg.seq == self._probe.seq:
            self._probe.nacks += 1

    def _note_rtt(self, m: _Member, sample: float) -> None:
        alpha = self.config.rtt_alpha
        m.rtt = sample if m.rtt is None else m.rtt + alpha * (sample - m.rtt)

    # ---- state transitions (memberlist state.go) -------------------------------------

    def _set_state(self, m: _Member, state: MemberState) -> None:
        prev = m.state
        if prev is state:
            return
        self._counts[prev] -= 1
        self._counts[state] += 1
        m.state = state
        m.state_since = self._now
        if state is not SUSPECT and m.suspicion_timer is not None:
            m.suspicion_timer.cancel()
            m.suspicion_timer = None
            m.suspicion = None
        if state.gone and m is not self._me:
            self._timers.at(self._now + self.config.tombstone_timeout, self._reap, m, self._now)
        self._notify(self.on_change, self._view(m), prev)

    def _news(self, env: Envelope) -> list[Message]:
        """The frame's messages less the alive messages that are old news (most gossip a
        peer receives), with every record we will store (a version newer than ours) decoded
        and validated first, so that a malformed one spoils the whole frame (ValueError)
        before anything in it is handled. Versions we hold already are never decoded."""
        get = self._members.get
        news: list[Message] = []
        for msg in env.msgs:
            if type(msg) is Alive:
                if _old_news(get(msg.name), msg):
                    continue
                self._vet(msg.name, msg.gen, msg.rv, msg.record)
            elif type(msg) is Sync:
                for e in msg.entries:
                    self._vet(e.name, e.gen, e.rv, e.record)
            news.append(msg)
        return news

    def _vet(self, name: str, gen: int, rv: int, raw: Raw) -> None:
        if raw == NO_RECORD or name == self.name:
            return
        m = self._members.get(name)
        if m is None or gen > m.gen or (gen == m.gen and rv > m.rv):
            self._vetted[(name, gen, rv)] = self._records.decode(name, gen, rv, raw)

    def _resolve(self, name: str, gen: int, rv: int, raw: Raw) -> NodeRecord | None:
        if raw == NO_RECORD:
            return None
        vetted = self._vetted.get((name, gen, rv))
        return vetted if vetted is not None else self._records.decode(name, gen, rv, raw)

    def _relayed(self, a: Alive, m: _Member) -> Alive:
        """`a` as we pass it on: with the record we hold (that version or a newer one), never
        the received bytes (a decoded Raw keeps the whole received frame in memory)."""
        if a.record == NO_RECORD:
            return Alive(a.name, a.addr, a.gen, a.inc, a.rv, NO_RECORD)
        return Alive(a.name, a.addr, a.gen, a.inc, m.rv, _raw(m.record))

    def _set_record(self, m: _Member, rv: int, record: NodeRecord | None) -> None:
        if record is None:
            return
        m.rv = rv
        if record is not m.record and record != m.record:
            m.record = record
            m.last_update = self._now
            self._notify(self.on_record, self._view(m))

    def _handle_alive(self, env: Envelope | None, a: Alive, *, rebroadcast: bool = True) -> None:
        """`rebroadcast` False for push/pull state that is likely old news (_handle_sync)."""
        m = self._members.get(a.name)
        if _old_news(m, a):
            return
        if a.name == self.name:
            self._alive_about_self(a)
            return
        if a.record == NO_RECORD and env is not None and (m is None or a.gen > m.gen):
            # A record-less alive (a refutation) about a node new to us: fetch its record.
            self._send(env.addr, [Want((a.name,))])
        if m is None:
            record = self._resolve(a.name, a.gen, a.rv, a.record)
            rv = a.rv if record is not None else 0
            m = _Member(a.name, a.addr, a.gen, a.inc, ALIVE, self._now, record, rv, self._now)
            self._add_peer(m)
            self._notify(self.on_change, self._view(m), None)
            if rebroadcast:
                self._broadcast(a.name, self._relayed(a, m))
            return
        new_key = precedence(a.gen, a.inc)
        if new_key > m.key:
            if a.gen != m.gen:
                m.address = a.addr
                m.rv = 0
                m.rtt = None
            m.gen, m.inc = a.gen, a.inc
            if a.rv > m.rv:
                self._set_record(m, a.rv, self._resolve(a.name, a.gen, a.rv, a.record))
            self._set_state(m, ALIVE)
            if rebroadcast:
                self._broadcast(a.name, self._relayed(a, m))
        elif a.gen == m.gen and a.rv > m.rv and a.record != NO_RECORD:
            self._set_record(m, a.rv, self._resolve(a.name, a.gen, a.rv, a.record))
            if rebroadcast:
                self._broadcast("record:" + a.name, self._relayed(a, m))

    def _handle_load(self, env: Envelope, msg: Load) -> None:
        m = self._members.get(msg.name)
        if m is None or m is self._me or msg.gen != m.gen or msg.rv <= m.rv:
            return
        if m.record is None or m.rv < msg.base:
            # We missed a change of more than load: fetch the whole record from the relay.
            self._send(env.addr, [Want((msg.name,))])
            return
        record = self._records.get(msg.name, msg.gen, msg.rv) or self._records.put(
            msg.name, msg.gen, msg.rv, msg.load.apply(m.record)
        )
        self._set_record(m, msg.rv, record)
        self._broadcast_load(msg)

    def _broadcast_load(self, msg: Load) -> None:
        self._broadcast("load:" + msg.name, msg, self.config.load_retransmit_limit(self._live))

    def _alive_about_self(self, a: Alive) -> None:
        me = self._me
        if self._leaving or a.gen < me.gen:
            return
        if a.gen > me.gen:
            self.stats.conflicts += 1
            return
        if a.inc > me.inc or (a.inc == me.inc and a.rv > me.rv):
            # Someone holds a newer claim about us than we do (e.g. state from before a
            # crash we do not remember): outbid it.
            if a.rv >= MAX_UINT:
                self._restart_generation()
                return
            me.rv = max(me.rv, a.rv) + 1
            self._refute(a.gen, a.inc)

    def _handle_suspect(self, env: Envelope, s: Suspect) -> None:
        if not self._correct_stale(env, s):
            self._on_suspect(s)

    def _on_suspect(self, s: Suspect) -> None:
        m = self._members.get(s.name)
        if m is None or s.gen > m.gen or precedence(s.gen, s.inc) < m.key:
            return
        if m.suspicion is not None:
            if m.suspicion.confirm(s.by):
                self._arm_suspicion(m)
                self._broadcast(s.name, s)
            return
        if m.state is not ALIVE:
            return
        if m is self._me:
            self._refute(s.gen, s.inc)
            return
        m.gen, m.inc = s.gen, s.inc
        self._set_state(m, SUSPECT)
        n = self._live
        floor, ceiling = self.config.suspicion_bounds(n)
        k = self.config.suspicion_confirmations(n)
        m.suspicion = Suspicion(self._now, k, floor, ceiling, s.by)
        self._arm_suspicion(m)
        self._broadcast(s.name, s)

    def _arm_suspicion(self, m: _Member) -> None:
        assert m.suspicion is not None
        if m.suspicion_timer is not None:
            m.suspicion_timer.cancel()
        m.suspicion_timer = self._timers.at(
            m.suspicion.deadline, self._suspicion_expired, m, m.suspicion
        )

    def _suspicion_expired(self, m: _Member, suspicion: Suspicion) -> None:
        """Lifeguard's local-health scaling applied to the suspicion timeout: a node that
        misses acks and nacks itself (cut off, overloaded) may be the one at fault, so its
        suspicion runs health multiplier (score + 1) times as long before it declares anyone
        dead. Meanwhile it re-gossips the suspicion every floor seconds: the first broadcast
        may have been lost while it was cut off, and the accused must hear it to refute."""
        if m.suspicion is not suspicion:
            return
        deadline = suspicion.start + self._awareness.scale(suspicion.deadline - suspicion.start)
        if self._now < deadline:
            self._broadcast(m.name, Suspect(m.name, m.gen, m.inc, self.name))
            m.suspicion_timer = self._timers.at(
                min(deadline, self._now + suspicion.min_timeout),
                self._suspicion_expired,
                m,
                suspicion,
            )
            return
        self._on_dead(Dead(m.name, m.gen, m.inc, self.name))

    def _handle_dead(self, env: Envelope, d: Dead) -> None:
        if not self._correct_stale(env, d):
            self._on_dead(d)

    def _handle_left(self, env: Envelope, d: Left) -> None:
        self._on_dead(d)

    def _tell_accused(self, env: Envelope) -> None:
        """A peer we hold suspect or dead has just sent us a frame: it is up, but the claim
        may never have reached it (its gossip ran out while it was cut off, or across a healed
        partition), and without hearing it the peer cannot refute. Tell it directly, at most
        once per probe interval (Lifeguard's buddy system, applied to every frame)."""
        m = self._members.get(env.sender)
        if m is None or m.gen != env.gen or m.state not in (SUSPECT, DEAD):
            return
        if self._now - m.told_at < self.config.probe_interval:
            return
        m.told_at = self._now
        claim = Suspect if m.state is SUSPECT else Dead
        self._send(env.addr, [claim(m.name, m.gen, m.inc, self.name)])

    def _correct_stale(self, env: Envelope, claim: Suspect | Dead) -> bool:
        """A peer accuses a node we know to be alive at a newer incarnation: it missed the
        refutation, and will declare a healthy node dead when its timer runs out. Send it the
        newer alive directly instead of waiting for push/pull. True if the claim was stale."""
        m = self._members.get(claim.name)
        if m is None or m.state is not ALIVE or precedence(claim.gen, claim.inc) >= m.key:
            return False
        self._send(env.addr, [Alive(m.name, m.address, m.gen, m.inc, m.rv, _raw(m.record))])
        return True

    def _on_dead(self, d: Dead | Left) -> None:
        m = self._members.get(d.name)
        if m is None or d.gen > m.gen or precedence(d.gen, d.inc) < m.key or m.state.gone:
            return
        if m is self._me:
            self._refute(d.gen, d.inc)
            return
        m.gen, m.inc = d.gen, d.inc
        self._set_state(m, LEFT if isinstance(d, Left) else DEAD)
        self._broadcast(d.name, d)

    def _refute(self, gen: int, inc: int) -> None:
        """We are accused (suspect/dead/left) of something: outbid it with a higher
        incarnation; refuting costs health (Lifeguard: we may be the slow one). The refutation
        leaves the record out: peers have it already, and at 5 % loss refutations are the bulk
        of gossip, so this keeps traffic flat (push/pull repairs a peer that lacks it)."""
        me = self._me
        if gen == me.gen:
            if inc >= MAX_UINT:
                self._restart_generation()
                return
            me.inc = max(me.inc, inc + 1)
            self.stats.refutes += 1
            self._awareness.apply(1)
        self._broadcast_self(with_record=False)

    def _restart_generation(self) -> None:
        """A claim about us at the largest incarnation or record version cannot be outbid by
        counting up: go on as the next generation (what a restart does), which beats every
        claim about the old one. Claims about a generation peers have not seen alive are
        ignored (_on_suspect, _on_dead), so nobody can pre-empt this one."""
        me = self._me
        self.stats.refutes += 1
        self.generation = me.gen = me.gen + 1
        me.inc, me.rv = 0, 1
        self._base = me.rv
        me.record = self._records.put(me.name, me.gen, me.rv, me.record) if me.record else None
        self._codec.generation = me.gen
        self._broadcast_self()

    def _reap(self, m: _Member, since: float) -> None:
        if self._members.get(m.name) is m and m.state.gone and m.state_since == since:
            self._remove_peer(m)

    # ---- records -----------------------------------------------------------------------

    def _publish(self, record: NodeRecord, *, load_only: bool) -> None:
        me = self._me
        me.rv += 1
        me.record = self._records.put(me.name, me.gen, me.rv, record)
        if not load_only:
            self._base = me.rv
        me.last_update = self._now
        self._last_publish = self._now
        self._pending_record = None
        if self._record_timer is not None:
            self._record_timer.cancel()
            self._record_timer = None
        self._notify(self.on_record, self._view(me))
        if self._leaving:
            return
        if load_only:
            load = Load(me.name, me.gen, me.rv, self._base, NodeLoad.of(record))
            self._broadcast_load(load)
        else:
            self._broadcast_self()

    def _publish_pending(self) -> None:
        """Only load-only changes wait; any other change publishes at once and clears this."""
        self._record_timer = None
        if self._pending_record is not None:
            self._publish(self._pending_record, load_only=True)

    # ---- push/pull anti-entropy --------------------------------------------------------

    def _digest(self, m: _Member) -> DigestEntry:
        return DigestEntry(m.name, m.gen, m.inc, m.state, m.rv)

    def _entry(self, m: _Member) -> SyncEntry:
        return SyncEntry(m.name, m.address, m.gen, m.inc, m.state, m.rv, _raw(m.record))

    def _send_digest(self, addr: str) -> None:
        digest = (self._digest(m) for m in self._members.values())
        for msg in digest_messages(digest, self._chunk_budget):
            self._send(addr, [msg])

    def _send_entries(self, addr: str, names: Iterable[str]) -> None:
        entries = [self._entry(m) for name in names if (m := self._members.get(name))]
        # Always answer (an empty Sync at least), so a joiner knows its seed is there.
        for chunk in chunked(entries, self._chunk_budget) if entries else [[]]:
            self._send(addr, [Sync(tuple(chunk))])

    def _pushpull_tick(self) -> None:
        if self._leaving:
            return
        self._timers.at(self._now + self.config.pushpull_period(self._live), self._pushpull_tick)
        peers = self._sample(1, lambda m: m.state is ALIVE)
        if peers:
            self._send(peers[0].address, [Summary(len(self._members), self._digest_hash())])

    def _digest_hash(self) -> bytes:
        return digest_hash(self._digest(m) for m in self._members.values())

    def _handle_summary(self, env: Envelope, summary: Summary) -> None:
        if summary.members != len(self._members) or summary.hash != self._digest_hash():
            self._send_digest(env.addr)

    def _exchange(self, addr: str) -> None:
        if not self._leaving:
            self._send_digest(addr)

    def _join_retry(self, addr: str) -> None:
        delay = self._joins.get(addr)
        if delay is None or self._leaving:
            return
        if any(m.address == addr and m.state is ALIVE for m in self._peers):
            del self._joins[addr]
            return
        self._send_digest(addr)
        delay = self._joins[addr] = min(delay * 2, self.config.pushpull_interval)
        self._timers.at(self._now + delay, self._join_retry, addr)

    def _handle_pushpull(self, env: Envelope, pp: PushPull) -> None:
        mine = {name: self._digest(m) for name, m in self._members.items()}
        give, want = compare(mine, pp)
        self._send_entries(env.addr, give)
        if want:
            self._send(env.addr, [Want(want)])

    def _handle_want(self, env: Envelope, w: Want) -> None:
        self._send_entries(env.addr, w.names)

    def _handle_sync(self, env: Envelope, sync: Sync) -> None:
        """memberlist's mergeState: remote dead becomes local suspect (never dead at once).

        Gossiping on every merged entry (as memberlist does) would make each joiner flood the
        cluster with old news. Instead: an entry about the sender itself is first-hand news
        and is gossiped; third-party news is gossiped only when it is news to the larger side,
        i.e. it taught us fewer new members than half of those we already knew; and if the
        exchange taught us any new members we were cut off from them, so they likely never
        heard of us either: we re-announce ourselves.
        """
        if self._joins.pop(env.addr, None) is not None:
            self._timers.at(self._now + self.config.join_followup, self._exchange, env.addr)
        known = len(self._members)
        new = sum(1 for e in sync.entries if e.name not in self._members)
        news = 2 * new < known
        for e in sync.entries:
            if e.state is ALIVE:
                alive = Alive(e.name, e.addr, e.gen, e.inc, e.rv, e.record)
                self._handle_alive(None, alive, rebroadcast=news or e.name == env.sender)
                continue
            if e.state is LEFT:
                self._on_dead(Left(e.name, e.gen, e.inc))
            else:
                # The sender's claim, not ours: it must not count as our own confirmation.
                self._on_suspect(Suspect(e.name, e.gen, e.inc, env.sender))
            m = self._members.get(e.name)
            if m is not None and m is not self._me and m.gen == e.gen and e.rv > m.rv:
                self._set_record(m, e.rv, self._resolve(e.name, e.gen, e.rv, e.record))
        if len(self._members) > known and not self._leaving:
            self._broadcast_self()

    # ---- views -------------------------------------------------------------------------

    def _view(self, m: _Member) -> MemberView:
        return MemberView(
            name=m.name,
            address=m.address,
            state=m.state,
            incarnation=m.inc,
            record=m.record,
            rtt=m.rtt,
            state_since=m.state_since,
            last_update=m.last_update,
            is_self=m is self._me,
            generation=m.gen,
            record_version=m.rv,
        )

    def _notify(self, callbacks: list[Callable[..., None]], *args: Any) -> None:
        for callback in callbacks:
            try:
                callback(*args)
            except Exception:
                log.exception("membership: callback %r failed", callback)

    _handlers: ClassVar[dict[type, Callable[[Membership, Envelope, Any], None]]] = {
        Ping: _handle_ping,
        PingReq: _handle_ping_req,
        Ack: _handle_ack,
        Nack: _handle_nack,
        Alive: _handle_alive,
        Load: _handle_load,
        Suspect: _handle_suspect,
        Dead: _handle_dead,
        Left: _handle_left,
        PushPull: _handle_pushpull,
        Summary: _handle_summary,
        Want: _handle_want,
        Sync: _handle_sync,
    }


def _check_record(record: NodeRecord, name: str, address: str, max_bytes: int) -> None:
    if record.name != name or record.address != address:
        raise ValueError(
            f"record names {record.name!r} at {record.address!r}, expected {name!r} at {address!r}"
        )
    size = len(record.raw())
    if size > max_bytes:
        raise ValueError(f"record is {size} bytes encoded, more than max_record_bytes={max_bytes}")


def _old_news(m: _Member | None, a: Alive) -> bool:
    """Whether `a` tells nothing new about member `m`: true of most alive messages a peer
    receives, since every peer relays each one several times."""
    return m is not None and a.gen == m.gen and a.inc <= m.inc and a.rv <= m.rv


def _raw(record: NodeRecord | None) -> Raw:
    return NO_RECORD if record is None else record.raw()

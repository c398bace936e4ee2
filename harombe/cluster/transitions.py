"""Liveness and record state of each member, as memberlist's state.go orders it: alive,
suspect, dead and left claims ranked by (generation, incarnation), refutation by incarnation
bump, Lifeguard suspicion timeouts that shrink with independent confirmations and stretch with
our own poor health, tombstones reaped after a while.

Beyond memberlist, so that a node that is itself cut off (a flapping link) kills no one:
- suspicion timeouts also scale with the local health multiplier, and while scaled the
  suspicion is re-gossiped so the accused can still hear it and refute (_suspicion_expired);
- a frame from a peer we hold suspect or dead gets that claim back directly (tell_accused);
- a claim about a generation we have never seen alive is ignored, and an accusation that
  cannot be outbid by counting up moves us to our next generation (_restart_generation).
"""

from __future__ import annotations

import math
import sys

from msgspec import Raw

from harombe.cluster.codec import Envelope
from harombe.cluster.core import Core
from harombe.cluster.dissemination import Dissemination, raw_record
from harombe.cluster.members import Member
from harombe.cluster.messages import (
    MAX_UINT,
    NO_RECORD,
    Alive,
    Dead,
    Left,
    Load,
    Message,
    Suspect,
    Sync,
    Want,
)
from harombe.cluster.record import NodeLoad, NodeRecord, only_load_changed
from harombe.cluster.state import MemberState, precedence
from harombe.cluster.suspicion import Suspicion

ALIVE, SUSPECT, DEAD, LEFT = (
    MemberState.ALIVE,
    MemberState.SUSPECT,
    MemberState.DEAD,
    MemberState.LEFT,
)


class StateMachine:
    def __init__(self, core: Core, out: Dissemination) -> None:
        self._core = core
        self._out = out
        self._vetted: dict[tuple[str, int, int], NodeRecord] = {}
        """Records validated for the frame being handled (see news)."""
        self._told: dict[str, float] = {}
        """When each member we hold suspect or dead was last told so (tell_accused)."""

    # ---- records in a frame ------------------------------------------------------------

    def news(self, env: Envelope) -> list[Message]:
        """The frame's messages less the alive messages that are old news (most gossip a
        peer receives, since every peer relays each one several times), with every record we
        will store (a version newer than ours) decoded and validated first, so that a
        malformed one spoils the whole frame (ValueError) before anything in it is handled.
        Versions we hold already are never decoded. Call done() once the frame is handled."""
        stale = self._core.table.stale
        news: list[Message] = []
        try:
            for msg in env.msgs:
                if type(msg) is Alive:
                    if stale(msg.name, msg.gen, msg.inc, msg.rv):
                        continue
                    self._vet(msg.name, msg.gen, msg.rv, msg.record)
                elif type(msg) is Sync:
                    for e in msg.entries:
                        self._vet(e.name, e.gen, e.rv, e.record)
                news.append(msg)
        except ValueError:
            self._vetted.clear()
            raise
        return news

    def done(self) -> None:
        self._vetted.clear()

    def _vet(self, name: str, gen: int, rv: int, raw: Raw) -> None:
        if raw == NO_RECORD or name == self._core.name:
            return
        held = self._core.table.version(name)
        if held is None or gen > held[0] or (gen == held[0] and rv > held[1]):
            self._vetted[(name, gen, rv)] = self._core.records.decode(name, gen, rv, raw)

    def resolve(self, name: str, gen: int, rv: int, raw: Raw) -> NodeRecord | None:
        if raw == NO_RECORD:
            return None
        vetted = self._vetted.get((name, gen, rv))
        return vetted if vetted is not None else self._core.records.decode(name, gen, rv, raw)

    def set_record(self, m: Member, rv: int, record: NodeRecord | None) -> None:
        if record is None:
            return
        m.rv = rv
        if record is not m.record and record != m.record:
            m.record = record
            m.last_update = self._core.now
            self._core.record_changed(m)

    # ---- transitions -------------------------------------------------------------------

    def set_state(self, m: Member, state: MemberState) -> None:
        prev = m.state
        if prev is state:
            return
        core = self._core
        core.table.moved(prev, state)
        m.state = state
        m.state_since = core.now
        if state is not SUSPECT and m.suspicion is not None:
            if m.suspicion.timer is not None:
                m.suspicion.timer.cancel()
            m.suspicion = None
        if state is ALIVE:
            self._told.pop(m.name, None)
        if state.gone and m != core.me:
            core.timers.at(core.now + core.config.tombstone_timeout, self._reap, m, core.now)
        core.changed(m, prev)

    def _relayed(self, a: Alive, m: Member) -> Alive:
        """`a` as we pass it on: with the record we hold (that version or a newer one), never
        the received bytes (a decoded Raw keeps the whole received frame in memory)."""
        alive = self._core.records.alive
        if a.record == NO_RECORD:
            return alive(m.name, m.address, a.gen, a.inc, a.rv, NO_RECORD)
        return alive(m.name, m.address, a.gen, a.inc, m.rv, raw_record(m.record))

    def handle_alive(self, env: Envelope | None, a: Alive, *, rebroadcast: bool = True) -> None:
        """`rebroadcast` False for push/pull state that is likely old news (handle_sync)."""
        core = self._core
        if core.table.stale(a.name, a.gen, a.inc, a.rv):
            return
        m = core.table.get(a.name)
        if a.name == core.name:
            self._alive_about_self(a)
            return
        if a.record == NO_RECORD and env is not None and (m is None or a.gen > m.gen):
            # A record-less alive (a refutation) about a node new to us: fetch its record.
            self._out.send(env.addr, [Want((a.name,))])
        if m is None:
            record = self.resolve(a.name, a.gen, a.rv, a.record)
            rv = a.rv if record is not None else 0
            m = core.table.insert(a.name, a.addr, a.gen, a.inc, ALIVE, core.now, record, rv)
            core.changed(m, None)
            if rebroadcast:
                self._out.broadcast(a.name, self._relayed(a, m))
            return
        if precedence(a.gen, a.inc) > m.key:
            if a.gen != m.gen:
                m.address = sys.intern(a.addr)
                m.rv = 0
                m.rtt = None
            m.gen, m.inc = a.gen, a.inc
            if a.rv > m.rv:
                self.set_record(m, a.rv, self.resolve(a.name, a.gen, a.rv, a.record))
            self.set_state(m, ALIVE)
            if rebroadcast:
                self._out.broadcast(a.name, self._relayed(a, m))
        elif a.gen == m.gen and a.rv > m.rv and a.record != NO_RECORD:
            old, old_rv = m.record, m.rv
            self.set_record(m, a.rv, self.resolve(a.name, a.gen, a.rv, a.record))
            if not rebroadcast:
                return
            new = m.record
            if old is not None and new is not None and (new == old or only_load_changed(old, new)):
                # Newer load only (most often from push/pull): pass it on as load news, which
                # is small and within the load budget, never as the whole record.
                load = Load(a.name, a.gen, m.rv, old_rv, NodeLoad.of(m.record))
                self._out.broadcast_load(load)
            else:
                self._out.broadcast("record:" + a.name, self._relayed(a, m))

    def handle_load(self, env: Envelope, msg: Load) -> None:
        core = self._core
        m = core.table.get(msg.name)
        if m is None or m == core.me or msg.gen != m.gen or msg.rv <= m.rv:
            return
        if m.record is None or m.rv < msg.base:
            # We missed a change of more than load: fetch the whole record from the relay.
            self._out.send(env.addr, [Want((msg.name,))])
            return
        record = core.records.get(msg.name, msg.gen, msg.rv) or core.records.put(
            msg.name, msg.gen, msg.rv, msg.load.apply(m.record)
        )
        self.set_record(m, msg.rv, record)
        self._out.broadcast_load(msg)

    def _alive_about_self(self, a: Alive) -> None:
        core = self._core
        me = core.me
        if core.leaving or a.gen < me.gen:
            return
        if a.gen > me.gen:
            core.stats.conflicts += 1
            return
        if a.inc > me.inc or (a.inc == me.inc and a.rv > me.rv):
            # Someone holds a newer claim about us than we do (e.g. state from before a
            # crash we do not remember): outbid it.
            if a.rv >= MAX_UINT:
                self._restart_generation()
                return
            me.rv = max(me.rv, a.rv) + 1
            self.refute(a.gen, a.inc)

    def handle_suspect(self, env: Envelope, s: Suspect) -> None:
        if not self._correct_stale(env, s):
            self.on_suspect(s)

    def on_suspect(self, s: Suspect) -> None:
        core = self._core
        m = core.table.get(s.name)
        if m is None or s.gen > m.gen or precedence(s.gen, s.inc) < m.key:
            return
        if m.suspicion is not None:
            if m.suspicion.confirm(s.by):
                self._arm_suspicion(m)
                self._out.broadcast(s.name, s)
            return
        if m.state is not ALIVE:
            return
        if m == core.me:
            self.refute(s.gen, s.inc)
            return
        m.gen, m.inc = s.gen, s.inc
        self.set_state(m, SUSPECT)
        n = core.table.live
        floor, ceiling = core.config.suspicion_bounds(n)
        k = core.config.suspicion_confirmations(n)
        m.suspicion = Suspicion(core.now, k, floor, ceiling, s.by)
        self._arm_suspicion(m)
        self._out.broadcast(s.name, s)

    def _arm_suspicion(self, m: Member) -> None:
        suspicion = m.suspicion
        assert suspicion is not None
        if suspicion.timer is not None:
            suspicion.timer.cancel()
        suspicion.timer = self._core.timers.at(
            suspicion.deadline, self._suspicion_expired, m, suspicion
        )

    def _suspicion_expired(self, m: Member, suspicion: Suspicion) -> None:
        """Lifeguard's local-health scaling applied to the suspicion timeout: a node that
        misses acks and nacks itself (cut off, overloaded) may be the one at fault, so its
        suspicion runs health multiplier (score + 1) times as long before it declares anyone
        dead. Meanwhile it re-gossips the suspicion every floor seconds: the first broadcast
        may have been lost while it was cut off, and the accused must hear it to refute."""
        if m.suspicion is not suspicion:
            return
        core = self._core
        elapsed = suspicion.deadline - suspicion.start
        deadline = suspicion.start + core.awareness.scale(elapsed)
        if core.now < deadline:
            self._out.broadcast(m.name, Suspect(m.name, m.gen, m.inc, core.name))
            suspicion.timer = core.timers.at(
                min(deadline, core.now + suspicion.min_timeout),
                self._suspicion_expired,
                m,
                suspicion,
            )
            return
        self.on_dead(Dead(m.name, m.gen, m.inc, core.name))

    def handle_dead(self, env: Envelope, d: Dead) -> None:
        if not self._correct_stale(env, d):
            self.on_dead(d)

    def handle_left(self, env: Envelope, d: Left) -> None:
        self.on_dead(d)

    def tell_accused(self, env: Envelope) -> None:
        """A peer we hold suspect or dead has just sent us a frame: it is up, but the claim
        may never have reached it (its gossip ran out while it was cut off, or across a healed
        partition), and without hearing it the peer cannot refute. Tell it directly, at most
        once per probe interval (Lifeguard's buddy system, applied to every frame)."""
        core = self._core
        m = core.table.get(env.sender)
        if m is None or m.gen != env.gen or m.state not in (SUSPECT, DEAD):
            return
        if core.now - self._told.get(m.name, -math.inf) < core.config.probe_interval:
            return
        self._told[m.name] = core.now
        claim = Suspect if m.state is SUSPECT else Dead
        self._out.send(env.addr, [claim(m.name, m.gen, m.inc, core.name)])

    def _correct_stale(self, env: Envelope, claim: Suspect | Dead) -> bool:
        """A peer accuses a node we know to be alive at a newer incarnation: it missed the
        refutation, and will declare a healthy node dead when its timer runs out. Send it the
        newer alive directly instead of waiting for push/pull. True if the claim was stale."""
        m = self._core.table.get(claim.name)
        if m is None or m.state is not ALIVE or precedence(claim.gen, claim.inc) >= m.key:
            return False
        alive = Alive(m.name, m.address, m.gen, m.inc, m.rv, raw_record(m.record))
        self._out.send(env.addr, [alive])
        return True

    def on_dead(self, d: Dead | Left) -> None:
        core = self._core
        m = core.table.get(d.name)
        if m is None or d.gen > m.gen or precedence(d.gen, d.inc) < m.key or m.state.gone:
            return
        if m == core.me:
            self.refute(d.gen, d.inc)
            return
        m.gen, m.inc = d.gen, d.inc
        self.set_state(m, LEFT if isinstance(d, Left) else DEAD)
        self._out.broadcast(d.name, d)

    def refute(self, gen: int, inc: int) -> None:
        """We are accused (suspect/dead/left) of something: outbid it with a higher
        incarnation; refuting costs health (Lifeguard: we may be the slow one). The refutation
        leaves the record out: peers have it already, and at 5 % loss refutations are the bulk
        of gossip, so this keeps traffic flat (push/pull repairs a peer that lacks it)."""
        core = self._core
        me = core.me
        if gen == me.gen:
            if inc >= MAX_UINT:
                self._restart_generation()
                return
            me.inc = max(me.inc, inc + 1)
            core.stats.refutes += 1
            core.awareness.apply(1)
        self._out.broadcast_self(with_record=False)

    def _restart_generation(self) -> None:
        """A claim about us at the largest incarnation or record version cannot be outbid by
        counting up: go on as the next generation (what a restart does), which beats every
        claim about the old one. Claims about a generation peers have not seen alive are
        ignored (on_suspect, on_dead), so nobody can pre-empt this one."""
        core = self._core
        me = core.me
        core.stats.refutes += 1
        me.gen, me.inc, me.rv = me.gen + 1, 0, 1
        core.base_rv = me.rv
        if me.record is not None:
            me.record = core.records.put(me.name, me.gen, me.rv, me.record)
        self._out.codec.generation = me.gen
        self._out.broadcast_self()

    def _reap(self, m: Member, since: float) -> None:
        table = self._core.table
        if table.get(m.name) == m and m.state.gone and m.state_since == since:
            table.remove(m)
            self._told.pop(m.name, None)

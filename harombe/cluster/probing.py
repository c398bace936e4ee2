"""SWIM's failure detector with Lifeguard's refinements: one probe per interval in
randomised round-robin order, indirect probes through helpers when the direct one times out,
nacks from helpers that could not reach the target (so silence points at the prober), and
relaying pings for others."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harombe.cluster.codec import Envelope
from harombe.cluster.core import Core
from harombe.cluster.dissemination import Dissemination
from harombe.cluster.members import Member
from harombe.cluster.messages import Ack, Message, Nack, Ping, PingReq, Suspect
from harombe.cluster.state import MemberState
from harombe.cluster.timers import Timer


@dataclass(slots=True, eq=False)
class Probe:
    target: Member
    seq: int
    sent: float
    acked: bool = False
    expected_nacks: int = 0
    nacks: int = 0
    timeout_timer: Timer | None = None


@dataclass(slots=True, eq=False)
class Relay:
    origin_addr: str
    origin_seq: int
    timer: Timer | None = None


class Prober:
    def __init__(self, core: Core, out: Dissemination, suspect: Callable[[Suspect], None]) -> None:
        """`suspect`: how a failed probe accuses its target (the state machine's)."""
        self._core = core
        self._out = out
        self._suspect = suspect
        self._pos = 0
        self.probe: Probe | None = None
        """The probe in flight, if any."""
        self._seq = 0
        self._relays: dict[int, Relay] = {}

    def start(self) -> None:
        """First probe at a random phase, so peers started together do not probe in step."""
        core = self._core
        core.timers.at(core.now + core.rng.uniform(0, core.config.probe_interval), self.tick)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def next_target(self) -> Member | None:
        table = self._core.table
        for _ in range(len(table.peers) + 1):
            if self._pos >= len(table.probe_order):
                table.probe_order = [m.name for m in table.peers]
                self._core.rng.shuffle(table.probe_order)
                self._pos = 0
                if not table.probe_order:
                    return None
            m = table.get(table.probe_order[self._pos])
            self._pos += 1
            if m is not None and not m.state.gone and m != table.me:
                return m
        return None

    def tick(self) -> None:
        core = self._core
        if core.leaving:
            return
        interval = core.awareness.scale(core.config.probe_interval)
        target = self.next_target()
        if target is None:
            core.timers.at(core.now + interval, self.tick)
            return
        probe = self.probe = Probe(target, self._next_seq(), core.now)
        core.stats.probes += 1
        msgs: list[Message] = [Ping(probe.seq, target.name)]
        if target.state is MemberState.SUSPECT:
            # Lifeguard's buddy system: tell the suspect directly so it can refute at once.
            msgs.append(Suspect(target.name, target.gen, target.inc, core.name))
        self._out.send(target.address, msgs)
        timeout = core.awareness.scale(core.config.probe_timeout)
        probe.timeout_timer = core.timers.at(core.now + timeout, self._indirect, probe)
        core.timers.at(core.now + interval, self._done, probe)

    def _indirect(self, probe: Probe) -> None:
        if probe.acked or self.probe is not probe:
            return
        core = self._core
        target = probe.target
        helpers = core.table.sample(
            core.config.indirect_checks, lambda m: m.state is MemberState.ALIVE, exclude=target
        )
        probe.expected_nacks = len(helpers)
        core.stats.indirect_probes += len(helpers)
        for helper in helpers:
            self._out.send(helper.address, [PingReq(probe.seq, target.name, target.address, True)])

    def _done(self, probe: Probe) -> None:
        core = self._core
        if self.probe is probe:
            self.probe = None
        if not probe.acked:
            core.stats.probe_failures += 1
            # With helpers, only their missing nacks count against our own health: they are
            # assumed healthy, so silence from them points at us (Lifeguard).
            missed = probe.expected_nacks - probe.nacks if probe.expected_nacks else 1
            core.awareness.apply(max(missed, 0))
            target = probe.target
            if core.table.get(target.name) == target and not target.state.gone:
                self._suspect(Suspect(target.name, target.gen, target.inc, core.name))
        self.tick()

    def handle_ping(self, env: Envelope, msg: Ping) -> None:
        if msg.target != self._core.name:
            self._core.drops.drop("misdirected")
            return
        self._out.send(env.addr, [Ack(msg.seq)])

    def handle_ping_req(self, env: Envelope, msg: PingReq) -> None:
        core = self._core
        seq = self._next_seq()
        relay = self._relays[seq] = Relay(env.addr, msg.seq)
        self._out.send(msg.target_addr, [Ping(seq, msg.target)])
        wait = core.config.probe_timeout * core.config.nack_fraction
        relay.timer = core.timers.at(core.now + wait, self._relay_expired, seq, msg.nack)

    def _relay_expired(self, seq: int, nack: bool) -> None:
        relay = self._relays.pop(seq, None)
        if relay is not None and nack:
            self._out.send(relay.origin_addr, [Nack(relay.origin_seq)])

    def handle_ack(self, env: Envelope, msg: Ack) -> None:
        probe = self.probe
        if probe is not None and msg.seq == probe.seq:
            if not probe.acked:
                probe.acked = True
                self._core.awareness.apply(-1)
                if env.sender == probe.target.name:
                    self._note_rtt(probe.target, self._core.now - probe.sent)
            return
        relay = self._relays.pop(msg.seq, None)
        if relay is not None:
            if relay.timer:
                relay.timer.cancel()
            self._out.send(relay.origin_addr, [Ack(relay.origin_seq)])

    def handle_nack(self, env: Envelope, msg: Nack) -> None:
        if self.probe is not None and msg.seq == self.probe.seq:
            self.probe.nacks += 1

    def _note_rtt(self, m: Member, sample: float) -> None:
        alpha = self._core.config.rtt_alpha
        m.rtt = sample if m.rtt is None else m.rtt + alpha * (sample - m.rtt)

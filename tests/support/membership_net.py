"""A virtual-time, in-memory network of Membership objects for the membership tests.

Frames are queued and delivered in order at the current virtual time; links can be cut and
frames lost at random. No real time passes anywhere.
"""

from __future__ import annotations

import collections
import random
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from harombe.cluster.codec import FrameCodec
from harombe.cluster.config import MembershipConfig
from harombe.cluster.membership import Membership, MemberState
from harombe.cluster.messages import Message
from harombe.cluster.record import NodeRecord
from harombe.cluster.replay import ReplayGuard

KEY = b"k" * 32


def addr(name: str) -> str:
    return f"{name}.test:8765"


class Net:
    def __init__(self, config: MembershipConfig | None = None, seed: int = 0) -> None:
        self.config = config or MembershipConfig()
        self.now = 0.0
        self.nodes: dict[str, Membership] = {}
        self.queue: collections.deque[tuple[str, str, bytes]] = collections.deque()
        self.cut: set[frozenset[str]] = set()
        self.loss = 0.0
        self.rng = random.Random(seed)
        self.delivered = 0
        self.recorded: list[bytes] | None = None
        """When a list: every frame sent from now on is appended to it."""

    def add(
        self,
        name: str,
        *,
        generation: int = 1,
        config: MembershipConfig | None = None,
        seeds: Sequence[str] = (),
        **kwargs: Any,
    ) -> Membership:
        a = addr(name)
        kwargs.setdefault("wall_clock", lambda: self.now)
        m = Membership(
            config or self.config,
            name=name,
            address=a,
            record=kwargs.pop("record", None) or NodeRecord(name, a),
            send=lambda to, data, src=a: self.queue.append((src, to, data)),
            now=self.now,
            rng=random.Random(f"{name}/{generation}"),
            generation=generation,
            **kwargs,
        )
        self.nodes[a] = m
        if seeds:
            m.join([addr(s) for s in seeds], self.now)
        return m

    def kill(self, name: str) -> None:
        """Crash: the node vanishes, frames to it are lost."""
        del self.nodes[addr(name)]

    def cut_link(self, a: str, b: str) -> None:
        self.cut.add(frozenset((addr(a), addr(b))))

    def deliver(self) -> None:
        while self.queue:
            src, to, data = self.queue.popleft()
            if self.recorded is not None:
                self.recorded.append(data)
            if frozenset((src, to)) in self.cut or self.rng.random() < self.loss:
                continue
            node = self.nodes.get(to)
            if node is not None:
                self.delivered += 1
                node.receive(data, self.now)

    def run(self, seconds: float, step: float = 0.01) -> None:
        """Advance virtual time in `step`s, ticking each node when its deadline is due."""
        end = self.now + seconds
        while self.now < end - 1e-9:
            self.now = min(end, self.now + step)
            for node in list(self.nodes.values()):
                if node.next_deadline() <= self.now:
                    node.tick(self.now)
            self.deliver()

    def run_until(self, pred: Callable[[], bool], timeout: float, step: float = 0.01) -> bool:
        end = self.now + timeout
        while self.now < end:
            if pred():
                return True
            self.run(step, step)
        return pred()

    def converged(self, names: Sequence[str] | None = None) -> bool:
        nodes = list(self.nodes.values())
        want = {n.name for n in nodes} if names is None else set(names)
        return all(
            {v.name for v in n.members() if v.state is MemberState.ALIVE} >= want for n in nodes
        )

    def state(self, observer: str, subject: str) -> MemberState | None:
        view = self.nodes[addr(observer)].get(subject)
        return view.state if view else None


class Forger:
    """Builds frames as peer `name` would, to feed one Membership hand-made messages."""

    def __init__(
        self,
        name: str,
        *,
        label: str = "harombe",
        keyring: Sequence[bytes] = (),
        gen: int = 1,
        wall: Callable[[], float] = lambda: 0.0,
        config: MembershipConfig | None = None,
    ) -> None:
        cfg = config or MembershipConfig()
        self.name = name
        self.codec = FrameCodec(
            sender=name,
            addr=addr(name),
            gen=gen,
            label=label,
            keyring=keyring,
            max_frame_bytes=cfg.max_frame_bytes,
            max_messages=cfg.max_frame_messages,
            replay=ReplayGuard(60, 16, 16),
            wall_clock=wall,
        )

    def frame(self, *msgs: Message) -> bytes:
        return self.codec.encode(list(msgs))

    def raw(self, *wire: list[Any]) -> bytes:
        return self.codec.encode(list(wire))


def as_wire(msg: Any) -> Any:
    """A message (or any value) as the plain lists and maps its msgpack encoding decodes to."""
    return msgspec.msgpack.decode(msgspec.msgpack.encode(msg))


class Outbox:
    """A send function that keeps what one isolated Membership sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def __call__(self, to: str, data: bytes) -> None:
        self.sent.append((to, data))


def lone(
    name: str = "me",
    *,
    config: MembershipConfig | None = None,
    now: float = 0.0,
    **kwargs: Any,
) -> tuple[Membership, Outbox]:
    """A Membership wired to an Outbox instead of a network."""
    out = Outbox()
    a = addr(name)
    kwargs.setdefault("wall_clock", lambda: 0.0)
    m = Membership(
        config or MembershipConfig(),
        name=name,
        address=a,
        record=NodeRecord(name, a),
        send=out,
        now=now,
        rng=random.Random(7),
        generation=kwargs.pop("generation", 1),
        **kwargs,
    )
    return m, out


class Parts:
    """One node's membership parts (core.py and what builds on it) without the facade, for
    testing each part on its own: a member table holding `peers`, a dissemination layer
    sending into `outbox`, and `now` moved by hand (`advance`)."""

    def __init__(
        self,
        name: str = "me",
        peers: Sequence[str] = (),
        *,
        config: MembershipConfig | None = None,
        seed: int = 7,
    ) -> None:
        from harombe.cluster.core import Core
        from harombe.cluster.dissemination import Dissemination
        from harombe.cluster.members import Member
        from harombe.cluster.record_cache import RecordCache

        self.config = config or MembershipConfig()
        self.outbox = Outbox()
        me = Member(
            name, addr(name), 1, 0, MemberState.ALIVE, 0.0, NodeRecord(name, addr(name)), 1, 0.0
        )
        self.core = Core(self.config, me, rng=random.Random(seed), records=RecordCache())
        codec = Forger(name, config=self.config).codec
        self.out = Dissemination(self.core, codec, self.outbox)
        for peer in peers:
            self.core.table.add(self.member(peer))

    @staticmethod
    def member(name: str, state: MemberState = MemberState.ALIVE, gen: int = 1) -> Any:
        from harombe.cluster.members import Member

        return Member(name, addr(name), gen, 0, state, 0.0, NodeRecord(name, addr(name)), 1, 0.0)

    def advance(self, seconds: float) -> None:
        """Move time on and run the timers that fall due."""
        self.core.now += seconds
        self.core.timers.run_due(self.core.now)

    def sent(self) -> list[tuple[str, list[Any]]]:
        """(address, decoded messages) of every frame sent so far; clears the outbox."""
        codec = Forger("reader", config=self.config).codec
        frames = [(to, codec.decode(data).msgs) for to, data in self.outbox.sent]
        self.outbox.sent.clear()
        return frames

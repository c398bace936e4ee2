"""Faults as operations in a scenario's schedule ("at T do X"), chitchat's operation lists.

Each operation picks its victims with the cluster's seeded RNG, so a scenario is reproducible,
and tells the observer which peers are impaired on purpose (their deaths are expected, not
false).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sim.cluster import SimCluster


class Op(Protocol):
    def apply(self, cluster: SimCluster) -> None: ...


@dataclass
class At:
    """Run `op` at `t` seconds after the scenario's start (after the initial convergence)."""

    t: float
    op: Op


@dataclass
class Crash:
    """kill -9: the peer stops at once, without leaving; its streams break."""

    count: int = 1

    def apply(self, cluster: SimCluster) -> None:
        for name in cluster.pick(self.count):
            cluster.crash(name)


@dataclass
class Leave:
    """Graceful leave (SIGTERM)."""

    count: int = 1

    def apply(self, cluster: SimCluster) -> None:
        for name in cluster.pick(self.count):
            cluster.spawn(cluster.leave(name))


@dataclass
class Restart:
    """Start stopped peers again under their old names, with a new generation."""

    count: int = 1

    def apply(self, cluster: SimCluster) -> None:
        for name in sorted(cluster.stopped)[: self.count]:
            cluster.spawn(cluster.restart(name))


@dataclass
class Join:
    """New peers join; the observer times how long until 99.99 % of peers know each."""

    count: int = 1

    def apply(self, cluster: SimCluster) -> None:
        for _ in range(self.count):
            cluster.spawn(cluster.add_peer(watch=True))


@dataclass
class Touch:
    """A peer changes its record (a model added); the observer times its dissemination."""

    count: int = 1

    def apply(self, cluster: SimCluster) -> None:
        for name in cluster.pick(self.count):
            cluster.touch_record(name)


@dataclass
class Partition:
    """Split the running peers in two: `fraction` of them on one side."""

    fraction: float = 0.5

    def apply(self, cluster: SimCluster) -> None:
        names = sorted(cluster.running)
        side = set(cluster.rng.sample(names, round(len(names) * self.fraction)))
        cluster.partition([side])


@dataclass
class Heal:
    """Remove every partition and cut link."""

    def apply(self, cluster: SimCluster) -> None:
        cluster.heal()


@dataclass
class Loss:
    """Uniform packet loss on every link from now on."""

    rate: float

    def apply(self, cluster: SimCluster) -> None:
        cluster.network.set_loss(self.rate)


@dataclass
class Flap:
    """A peer whose network goes away and comes back every `period` s, `times` times."""

    count: int = 1
    period: float = 3.0
    times: int = 4

    def apply(self, cluster: SimCluster) -> None:
        for name in cluster.pick(self.count):
            cluster.impair(name)
            for i in range(self.times * 2):
                cut = i % 2 == 0
                cluster.loop.call_later(i * self.period, cluster.isolate, name, cut)
            cluster.loop.call_later(self.times * 2 * self.period, cluster.recover, name)


@dataclass
class Starve:
    """A CPU-starved peer: every incoming frame is handled `delay` s late, for `duration` s."""

    count: int = 1
    delay: float = 1.0
    duration: float = 20.0

    def apply(self, cluster: SimCluster) -> None:
        for name in cluster.pick(self.count):
            cluster.impair(name)
            cluster.network.starve(cluster.peers[name].address, self.delay)
            cluster.loop.call_later(self.duration, cluster.unstarve, name)


@dataclass
class Stall:
    """A frozen event loop: nothing in or out for `duration` s, then a lag report."""

    count: int = 1
    duration: float = 5.0

    def apply(self, cluster: SimCluster) -> None:
        for name in cluster.pick(self.count):
            cluster.stall(name, self.duration)

"""A population of simulated peers on one network and one virtual clock, and the operations a
scenario performs on it (start, crash, leave, restart, partition, ...).

The cluster is the simulation's source of truth (which peers really run, which are impaired on
purpose); the observer compares every peer's view against it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine
from typing import Any

from harombe.cluster.columns import MemberIds
from harombe.cluster.record_cache import RecordCache
from sim.backends import HardwareProfile
from sim.network import Network
from sim.observe import MembershipObserver
from sim.peer import RemoteBackend, SimPeer
from sim.scheduler import TimerQueue
from sim.spec import ClusterSpec

__all__ = ["ClusterSpec", "SimCluster"]


class SimCluster:
    def __init__(self, loop: asyncio.AbstractEventLoop, spec: ClusterSpec) -> None:
        self.loop = loop
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.timers = TimerQueue(loop)
        """Every peer's membership timer and the network's, on one loop handle."""
        self.network = Network(
            loop,
            random.Random(spec.seed + 1),
            link=spec.link,
            max_frame_bytes=spec.membership.max_frame_bytes,
            call_at=self.timers.call_at,
        )
        _, ceiling = spec.membership.suspicion_bounds(spec.peers)
        self.observer = MembershipObserver(
            loop.time,
            grace=ceiling + 2 * spec.membership.probe_interval,
            fraction=spec.dissemination_fraction,
        )
        self.records = RecordCache()
        """Decoded records, shared by every peer: one copy of each record version."""
        self.member_ids = MemberIds()
        """Member ids, shared by every peer: one id per name in all their tables."""
        self.peers: dict[str, SimPeer] = {}
        self.stopped: set[str] = set()
        self._by_address: dict[str, SimPeer] = {}
        self._count = 0
        self._tasks: dict[asyncio.Task[Any], None] = {}  # ordered: deterministic runs
        self._marks = 0

    # -- population -------------------------------------------------------------------------

    @property
    def running(self) -> set[str]:
        return self.observer.running

    def _new_peer(self, name: str, address: str, profile: HardwareProfile, gen: int) -> SimPeer:
        seed = self.rng.randrange(2**32)
        peer = SimPeer(self, name, address, profile, generation=gen, seed=seed)
        self.peers[name] = peer
        self._by_address[address] = peer
        return peer

    def _profile(self, index: int) -> HardwareProfile:
        profiles = [p for p, _ in self.spec.mix]
        if index < len(profiles):
            return profiles[index]  # at least one peer of each kind
        return self.rng.choices(profiles, weights=[w for _, w in self.spec.mix])[0]

    def _start(self, peer: SimPeer, *, watch: bool = False) -> None:
        known = sorted(self.running)
        seeds = self.rng.sample(known, min(self.spec.seeds_per_join, len(known)))
        self.observer.started(peer.name)
        if watch:
            self.observer.watch_join(peer.name)
        peer.start([self.peers[s].address for s in seeds])

    async def start(self) -> None:
        """Start the initial peers at `join_rate` per second, each joining a few earlier ones
        (or, with `converged_start`, all at once, each knowing all)."""
        if self.spec.converged_start:
            self._start_converged()
            return
        for _ in range(self.spec.peers):
            self._start(self._create())
            await asyncio.sleep(1.0 / self.spec.join_rate)

    def _start_converged(self) -> None:
        """The first peer learns every other from its announcement, as a join would teach
        it; every other peer adopts a snapshot of what the first one holds."""
        peers = [self._create() for _ in range(self.spec.peers)]
        for peer in peers:
            self.observer.started(peer.name)
        now = self.loop.time()
        first, rest = peers[0], peers[1:]
        first.membership.adopt([peer.announcement() for peer in rest], now)
        snapshot = first.membership.snapshot(now)
        for peer in rest:
            peer.membership.adopt_snapshot(snapshot, now)
        self.observer.adopted([peer.name for peer in rest], [peer.name for peer in peers])
        for peer in peers:
            peer.start([])

    def _create(self) -> SimPeer:
        index = self._count
        self._count += 1
        name = f"peer-{index:05d}"
        address = f"10.{index // 65536}.{index // 256 % 256}.{index % 256}:8765"
        return self._new_peer(name, address, self._profile(index), gen=1)

    async def add_peer(self, *, watch: bool = False) -> SimPeer:
        peer = self._create()
        self._start(peer, watch=watch)
        return peer

    async def wait_converged(self, within: float, poll: float = 0.25) -> float | None:
        """Virtual seconds until every running peer agrees on who runs; None if that takes
        longer than `within`."""
        start = self.loop.time()
        while True:
            if self.observer.converged():
                return self.loop.time() - start
            if self.loop.time() - start >= within:
                return None
            await asyncio.sleep(poll)

    # -- faults -------------------------------------------------------------------------------

    def pick(self, count: int) -> list[str]:
        candidates = sorted(self.running - self.observer.impaired)
        return self.rng.sample(candidates, min(count, len(candidates)))

    def crash(self, name: str) -> None:
        peer = self.peers[name]
        self.observer.stopped(name, peer.membership.members(), crashed=True)
        self.stopped.add(name)
        peer.crash()

    async def leave(self, name: str) -> None:
        peer = self.peers[name]
        self.impair(name)
        await peer.leave()
        self.observer.stopped(name, peer.membership.members(), crashed=False)
        self.stopped.add(name)

    async def restart(self, name: str) -> SimPeer:
        """Start a stopped peer again: same name and address, next generation."""
        old = self.peers[name]
        self.stopped.discard(name)
        peer = self._new_peer(name, old.address, old.profile, gen=old.generation + 1)
        self._start(peer)
        return peer

    def touch_record(self, name: str) -> None:
        self._marks += 1
        marker = f"sim-marker-{self._marks}"
        self.observer.watch_record(name, marker)
        self.peers[name].add_model(marker)

    def partition(self, groups: list[set[str]]) -> None:
        self.observer.set_partition(groups)
        self.network.partition([{self.peers[n].address for n in g} for g in groups])

    def heal(self) -> None:
        self.observer.set_partition(None)
        self.network.heal()

    def impair(self, name: str) -> None:
        self.observer.impaired.add(name)

    def recover(self, name: str) -> None:
        self.observer.recover(name)

    def isolate(self, name: str, cut: bool) -> None:
        """Cut (or restore) every link of a peer, both directions."""
        self.network.isolate(self.peers[name].address, cut)

    def unstarve(self, name: str) -> None:
        if self.network.attached(self.peers[name].address):
            self.network.starve(self.peers[name].address, 0.0)
        self.recover(name)

    def stall(self, name: str, duration: float) -> None:
        self.impair(name)
        self.peers[name].stall(duration)
        self.loop.call_later(duration, self.recover, name)

    # -- plumbing -----------------------------------------------------------------------------

    def peer_at(self, address: str) -> SimPeer | None:
        return self._by_address.get(address)

    def random_live_peer(self, rng: random.Random) -> SimPeer | None:
        live = sorted(n for n in self.running if n not in self.observer.impaired)
        return self.peers[rng.choice(live)] if live else None

    def connect(self, source: SimPeer, address: str) -> RemoteBackend:
        return RemoteBackend(self, source, address)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = self.loop.create_task(coro)
        self._tasks[task] = None
        task.add_done_callback(lambda t: self._tasks.pop(t, None))
        return task

    async def stop(self) -> None:
        for peer in self.peers.values():
            if peer.alive:
                await peer.runner.stop(leave=False)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

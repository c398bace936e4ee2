"""One simulated peer: the real membership (`harombe.node.gossip`, as in harombed), the real
dispatcher, a simulated backend, all on the in-memory network and the virtual clock.

What `harombed` does over HTTP is done here by direct calls: a client's request enters
`client_request` (the peer's API handler), the dispatcher picks a node, and `connect` returns a
`RemoteBackend` that calls the target peer's local serve path after the network's latency,
failing the way a TCP connection would when the target is dead or cut off.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Coroutine
from contextlib import aclosing
from typing import Any, Protocol

from harombe.cluster.columns import MemberIds
from harombe.cluster.messages import Alive
from harombe.cluster.record import NodeRecord
from harombe.cluster.record_cache import RecordCache
from harombe.inference.types import (
    BackendError,
    BackendHealth,
    ChatChunk,
    ChatRequest,
    LoadedModel,
    ModelInfo,
)
from harombe.node.gossip import Gossip
from harombe.routing.dispatch import Dispatcher
from harombe.routing.route import RouteInfo, RouteOptions
from harombe.routing.view import MembershipView
from sim.backends import HardwareProfile, SimBackend
from sim.network import Network
from sim.observe import MembershipObserver
from sim.scheduler import TimerQueue
from sim.spec import ClusterSpec
from sim.workload import EntryPeerDown


class PeerHost(Protocol):
    """What a simulated peer uses of the cluster it runs in (`sim.cluster.SimCluster`)."""

    loop: asyncio.AbstractEventLoop
    spec: ClusterSpec
    network: Network
    observer: MembershipObserver
    timers: TimerQueue
    records: RecordCache
    member_ids: MemberIds

    def peer_at(self, address: str) -> SimPeer | None: ...

    def connect(self, source: SimPeer, address: str) -> RemoteBackend: ...

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...


class SimPeer:
    def __init__(
        self,
        cluster: PeerHost,
        name: str,
        address: str,
        profile: HardwareProfile,
        *,
        generation: int,
        seed: int,
    ) -> None:
        self.cluster = cluster
        self.name = name
        self.address = address
        self.profile = profile
        self.generation = generation
        self.alive = False
        self._extra_models: list[str] = []
        loop = cluster.loop
        self.backend = SimBackend(
            profile, random.Random(seed * 7 + 1), on_load_change=self._publish_load
        )
        self.gossip = Gossip(
            cluster.spec.membership,
            name=name,
            address=address,
            record=self._record(),
            send=self._send,
            clock=loop.time,
            rng=random.Random(seed),
            generation=generation,
            wall_clock=loop.time,
            records=cluster.records,
            ids=cluster.member_ids,
            call_at=cluster.timers.call_at,
            measure_loop_lag=False,
        )
        self.membership = self.gossip.membership
        self.runner = self.gossip.runner
        observer = cluster.observer
        self.membership.on_change.append(lambda view, prev: observer.on_change(name, view, prev))
        self.membership.on_record.append(lambda view: observer.on_record(name, view))
        self.dispatcher = (
            Dispatcher(
                node_name=name,
                local_backend=self.backend,
                view=MembershipView(self.membership, clock=loop.time),
                connect=lambda candidate: cluster.connect(self, candidate.address),
                config=cluster.spec.routing_config,
                rng=random.Random(seed * 7 + 2),
            )
            if cluster.spec.routing
            else None
        )
        self._handlers: dict[asyncio.Task[Any], None] = {}  # ordered: deterministic runs

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, seeds: list[str]) -> None:
        self.cluster.network.endpoint(self.address, self._on_frame)
        self.alive = True
        self.gossip.start(seeds)

    def announcement(self) -> Alive:
        """The alive message this peer's first announcement carries (its record included)."""
        me = self.membership.get(self.name)
        assert me is not None and me.record is not None
        return Alive(self.name, self.address, me.generation, me.incarnation, me.record_version,
                     me.record.raw())  # fmt: skip

    def crash(self) -> None:
        """kill -9: gone from the network at once, streams broken, no leave message."""
        self.alive = False
        self.cluster.network.remove(self.address)
        self.backend.kill()
        for task in list(self._handlers):
            task.cancel()
        self.cluster.spawn(self.gossip.stop(leave=False))

    async def leave(self) -> None:
        """SIGTERM: gossip 'left', then stop; in-flight answers are finished first."""
        await self.gossip.stop(leave=True)
        self.alive = False
        self.cluster.network.remove(self.address)
        self.backend.kill()

    def stall(self, duration: float) -> None:
        self.cluster.network.stall(self.address, duration)
        self.cluster.loop.call_later(duration, self.membership.note_loop_lag, duration)

    def add_model(self, model: str) -> None:
        self._extra_models.append(model)
        self.gossip.publish(self._record())

    # -- membership plumbing ------------------------------------------------------------------

    def _send(self, address: str, data: bytes) -> None:
        self.cluster.network.send(self.address, address, data)

    def _on_frame(self, src: str, data: bytes) -> None:
        self.gossip.receive(data)

    def _record(self) -> NodeRecord:
        p, b = self.profile, self.backend
        return NodeRecord(
            name=self.name,
            address=self.address,
            tier=p.tier,
            models=[p.model, *self._extra_models],
            loaded=[p.model],
            hardware={"kind": "sim", "gpu": p.gpu, "vram_gb": p.vram_gb},
            capacity=p.capacity,
            active=b.active,
            queue=b.queued,
            tps={p.model: p.tps},
            ttft={p.model: p.ttft},
            backend_ok=b.alive,
        )

    def _publish_load(self) -> None:
        if self.alive:
            self.gossip.publish(self._record())

    # -- the API handler a client talks to ----------------------------------------------------

    async def client_request(
        self, request: ChatRequest
    ) -> AsyncIterator[tuple[ChatChunk, RouteInfo]]:
        """Route `request` from this peer; raises EntryPeerDown if this peer dies meanwhile."""
        if not self.alive or self.dispatcher is None:
            raise EntryPeerDown(f"{self.name}: connection refused")
        queue: asyncio.Queue[tuple[ChatChunk, RouteInfo] | BaseException | None] = asyncio.Queue()
        handler = asyncio.create_task(self._handle(request, queue))
        self._handlers[handler] = None
        handler.add_done_callback(lambda t: self._handlers.pop(t, None))
        handler.add_done_callback(lambda t: queue.put_nowait(_outcome(t, self.name)))
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            handler.cancel()

    async def _handle(self, request: ChatRequest, queue: asyncio.Queue[Any]) -> None:
        assert self.dispatcher is not None
        stream = self.dispatcher.open(request, RouteOptions())
        async for chunk in stream:
            queue.put_nowait((chunk, stream.route))

    def serve(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """The local serve path a forwarded request (hop header) takes: this backend only."""
        return self.backend.chat(request)


def _outcome(task: asyncio.Task[Any], name: str) -> BaseException | None:
    """What the client sees when the handler ends: nothing more, its error, or a reset."""
    if task.cancelled():
        return EntryPeerDown(f"{name}: connection reset")
    return task.exception()


class RemoteBackend:
    """The dispatcher's handle on another peer: what `harombe.inference`'s peer backend does
    over HTTP, done with the simulated network's latency and failures."""

    kind = "peer"

    def __init__(self, cluster: PeerHost, source: SimPeer, target_address: str) -> None:
        self.cluster = cluster
        self.source = source
        self.target_address = target_address

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        network = self.cluster.network
        src, dst = self.source.address, self.target_address
        settings = self.cluster.spec
        target = self.cluster.peer_at(dst)
        reachable = network.reachable(src, dst)
        if not reachable and target is not None and target.alive:
            await asyncio.sleep(settings.connect_timeout)
            raise BackendError(f"connect to {dst} timed out", status=504)
        await asyncio.sleep(network.latency(src, dst) + network.latency(dst, src))
        if target is None or not target.alive or not network.reachable(src, dst):
            raise BackendError(f"connect to {dst}: connection refused", status=502)
        await asyncio.sleep(network.latency(src, dst))
        async with aclosing(target.serve(request)) as chunks:
            async for chunk in chunks:
                if not network.reachable(src, dst):
                    raise BackendError(f"connection to {dst} lost", status=502)
                yield chunk

    async def list_models(self) -> list[ModelInfo]:
        target = self.cluster.peer_at(self.target_address)
        if target is None or not target.alive:
            raise BackendError(f"{self.target_address} unreachable")
        return await target.backend.list_models()

    async def loaded_models(self) -> list[LoadedModel]:
        target = self.cluster.peer_at(self.target_address)
        if target is None or not target.alive:
            raise BackendError(f"{self.target_address} unreachable")
        return await target.backend.loaded_models()

    async def health(self) -> BackendHealth:
        target = self.cluster.peer_at(self.target_address)
        ok = target is not None and target.alive
        return BackendHealth(ok=ok, detail="" if ok else "unreachable")

    async def aclose(self) -> None:
        return None

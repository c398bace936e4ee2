"""Peers in one process, each a real aiohttp server on 127.0.0.1 carrying the peer websocket,
its membership (`harombe.node.gossip.Gossip`, as in harombed), joined through seeds (no mDNS)."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aiohttp import web

from harombe.cluster.config import MembershipConfig
from harombe.cluster.membership import Membership
from harombe.cluster.record import NodeRecord
from harombe.cluster.ws_transport import WebSocketTransport
from harombe.node.gossip import Gossip
from harombe.node.listen import bind_socket
from support.cli_support import poll

DEADLINE_S = 15.0


async def eventually(
    check: Callable[[], object], within: float = DEADLINE_S, what: str = "condition"
) -> None:
    """Poll `check` until it returns truthy; AssertionError naming `what` at the deadline."""
    await poll(check, what, within)


@dataclass(eq=False)
class Peer:
    name: str
    port: int
    gossip: Gossip
    transport: WebSocketTransport
    web_runner: web.AppRunner
    received: deque[bytes] = field(default_factory=lambda: deque(maxlen=64))
    """The last frames this peer received, raw (for replay tests)."""

    @property
    def membership(self) -> Membership:
        return self.gossip.membership

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"http://{self.address}{self.transport.path}"

    def view(self) -> dict[str, str]:
        """Member name -> state, as this peer sees it (itself excluded)."""
        return {m.name: m.state.label for m in self.membership.members() if m.name != self.name}

    def state_of(self, name: str) -> str | None:
        return self.view().get(name)


class Cluster:
    """Starts and stops peers; everything it started is stopped by `close()`."""

    def __init__(
        self,
        config: MembershipConfig | None = None,
        *,
        label: str = "harombe-test",
        keyring: Sequence[bytes] = (),
        seed: int = 1,
    ) -> None:
        self.config = config or MembershipConfig.local()
        self.label = label
        self.keyring = list(keyring)
        self.peers: list[Peer] = []
        self._rng = random.Random(seed)
        self._generations = itertools.count(1)

    async def start(self, count: int) -> list[Peer]:
        """Start `count` peers, each seeded with the first one; wait until all see all."""
        first = await self.start_peer("p0")
        rest = [await self.start_peer(f"p{i}", seeds=[first.address]) for i in range(1, count)]
        peers = [first, *rest]
        await self.converged(peers)
        return peers

    async def start_peer(
        self,
        name: str,
        *,
        seeds: Sequence[str] = (),
        port: int = 0,
        keyring: Sequence[bytes] | None = None,
    ) -> Peer:
        loop = asyncio.get_running_loop()
        sock = bind_socket("127.0.0.1", port)
        port = sock.getsockname()[1]
        address = f"127.0.0.1:{port}"
        received: deque[bytes] = deque(maxlen=64)
        gossip_slot: list[Gossip] = []

        def on_frame(data: bytes) -> None:
            received.append(data)
            if gossip_slot:
                gossip_slot[0].receive(data)

        transport = WebSocketTransport(
            local_address=address,
            on_frame=on_frame,
            max_frame_bytes=self.config.max_frame_bytes,
            reconnect_min=0.02,
            reconnect_max=0.2,
        )
        app = web.Application()
        transport.add_routes(app)
        web_runner = web.AppRunner(app, shutdown_timeout=1.0)
        await web_runner.setup()
        await web.SockSite(web_runner, sock).start()
        await transport.start()
        gossip = Gossip(
            self.config,
            name=name,
            address=address,
            record=NodeRecord(name=name, address=address),
            send=transport.send,
            clock=loop.time,
            rng=random.Random(self._rng.random()),
            label=self.label,
            keyring=self.keyring if keyring is None else keyring,
            generation=next(self._generations),
            wall_clock=time.time,
        )
        gossip_slot.append(gossip)
        gossip.start(seeds)
        peer = Peer(name, port, gossip, transport, web_runner, received)
        self.peers.append(peer)
        return peer

    async def stop(self, peer: Peer, *, leave: bool) -> None:
        """Stop a peer: gracefully (`leave`) or as if its machine vanished."""
        self.peers.remove(peer)
        await peer.gossip.stop(leave=leave)
        await peer.transport.close()
        await peer.web_runner.cleanup()

    async def restart(self, peer: Peer) -> Peer:
        """The same name on the same address, a new generation; joins the other peers."""
        seeds = [p.address for p in self.peers if p is not peer]
        return await self.start_peer(peer.name, seeds=seeds, port=peer.port)

    async def close(self) -> None:
        for peer in list(self.peers):
            await self.stop(peer, leave=False)

    async def converged(self, peers: Sequence[Peer] | None = None) -> None:
        """Every peer in `peers` (default: all running) sees every other one alive."""
        group = list(self.peers if peers is None else peers)
        names = {p.name for p in group}

        def all_alive() -> bool:
            return all(
                {n for n, s in p.view().items() if s == "alive"} >= names - {p.name} for p in group
            )

        await eventually(all_alive, what=f"{len(group)} peers see each other alive")

    async def agree(self, name: str, state: str, observers: Sequence[Peer] | None = None) -> None:
        """Every observer (default: all running peers but `name`) sees `name` in `state`."""
        group = [p for p in (self.peers if observers is None else observers) if p.name != name]
        await eventually(
            lambda: all(p.state_of(name) == state for p in group),
            what=f"all {len(group)} peers see {name} {state}",
        )

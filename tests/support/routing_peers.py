"""Real harombe peers on loopback for the routing tests, without gossip.

Each peer is a real aiohttp server running harombed's API app (`harombe.node.app.api_app`) with
a `Dispatcher` whose `StaticView` lists every peer; its local backend is an `OpenAIBackend` in
front of its own `FakeOpenAI` (or any real OpenAI-compatible server, such as the llama.cpp
fixture's). Peers forward to each other as harombed's do (`harombe.node.connect.PeerConnector`),
signed when the cluster has a key. What a peer
advertises of its models (context windows, tool calling) comes from its backend's model list,
as in `harombed`.
"""

from __future__ import annotations

import random
import socket
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from harombe.api.peer_auth import peer_auth_middleware
from harombe.inference.http1 import HttpClient
from harombe.inference.openai_compat import OpenAIBackend
from harombe.node.app import api_app, request_verifier
from harombe.node.connect import PeerConnector, request_signer
from harombe.routing.dispatch import Dispatcher
from harombe.routing.fit import advertised
from harombe.routing.view import Candidate, StaticView
from harombe.settings.routing import RoutingConfig
from sim.fake_openai import FakeOpenAI
from support.cli_support import bound_socket


@dataclass
class Peer:
    name: str
    tier: int
    models: list[str]
    capacity: int
    backend_url: str | None
    fake: FakeOpenAI | None
    rtt: float | None = None  # what every other peer's view says about this one
    port: int = 0
    sock: socket.socket | None = None  # bound to `port` until its server first listens on it
    dispatcher: Dispatcher | None = None
    view: StaticView = field(default_factory=StaticView)
    backend: OpenAIBackend | None = None
    runner: web.AppRunner | None = None
    ctx: dict[str, int] = field(default_factory=dict)
    tool_models: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def candidate(self, *, local: bool) -> Candidate:
        return Candidate(
            name=self.name,
            address=self.address,
            tier=self.tier,
            models=self.models,
            loaded=self.models,
            capacity=self.capacity,
            rtt=None if local else self.rtt,
            backend_ok=self.backend_url is not None,
            is_local=local,
            ctx=self.ctx,
            tool_models=self.tool_models,
        )


class RoutingCluster:
    def __init__(self, config: RoutingConfig, keyring: list[bytes] | None = None) -> None:
        self.config = config
        self.keyring = keyring or []
        self.peers: dict[str, Peer] = {}
        self.session: aiohttp.ClientSession | None = None
        self.http: HttpClient | None = None

    async def add(
        self,
        name: str,
        tier: int,
        *,
        model: str = "fake-model",
        capacity: int = 2,
        backend_url: str | None = None,
        fake: bool = True,
        rtt: float | None = None,
        n_ctx: int | None = None,
        capabilities: list[str] | None = None,
    ) -> Peer:
        """A peer; with `fake` (and no `backend_url`) its backend is a new FakeOpenAI, which
        reports `n_ctx` and `capabilities` for its model when given."""
        server = None
        if fake and backend_url is None:
            server = await FakeOpenAI(model, n_ctx=n_ctx, capabilities=capabilities).__aenter__()
            backend_url = server.url
        peer = Peer(name, tier, [model] if backend_url else [], capacity, backend_url, server, rtt)
        self.peers[name] = peer
        return peer

    def __getitem__(self, name: str) -> Peer:
        return self.peers[name]

    async def __aenter__(self) -> RoutingCluster:
        self.session = aiohttp.ClientSession()
        self.http = HttpClient(connect_timeout=5.0)
        for peer in self.peers.values():
            peer.sock = bound_socket()
            peer.port = peer.sock.getsockname()[1]
            if peer.backend_url:
                peer.backend = OpenAIBackend(
                    peer.backend_url, default_model=peer.models[0], session=self.session
                )
                peer.ctx, peer.tool_models = advertised(await peer.backend.list_models())
            peer.dispatcher = Dispatcher(
                node_name=peer.name,
                local_backend=peer.backend,
                view=peer.view,
                config=self.config,
                rng=random.Random(peer.name),
                connect=PeerConnector(
                    self.session, self.http, peer.name, request_signer(self.keyring, peer.name)
                ),
            )
        for peer in self.peers.values():
            peer.view.replace(p.candidate(local=p is peer) for p in self.peers.values())
            await self.start_http(peer.name)
        return self

    async def start_http(self, name: str) -> None:
        peer = self.peers[name]
        assert peer.dispatcher is not None
        verifier = request_verifier(self.keyring, name)
        app = api_app(
            node_name=peer.name,
            dispatcher=peer.dispatcher,
            middlewares=[peer_auth_middleware(verifier)],
        )
        peer.runner = web.AppRunner(app, shutdown_timeout=0.1, handler_cancellation=True)
        await peer.runner.setup()
        sock, peer.sock = peer.sock or bound_socket(peer.port), None  # a restart binds anew
        await web.SockSite(peer.runner, sock).start()

    async def stop_http(self, name: str) -> None:
        """The peer's machine is gone: its port refuses connections."""
        peer = self.peers[name]
        if peer.runner is not None:
            await peer.runner.cleanup()
            peer.runner = None

    async def __aexit__(self, *exc: object) -> None:
        for peer in self.peers.values():
            if peer.sock is not None:  # reserved, never listened on
                peer.sock.close()
                peer.sock = None
            await self.stop_http(peer.name)
            if peer.fake is not None:
                await peer.fake.__aexit__()
        if self.session is not None:
            await self.session.close()
        if self.http is not None:
            await self.http.aclose()

    def served(self) -> dict[str, int]:
        """Chat requests each peer's fake backend has received."""
        return {n: len(p.fake.requests) for n, p in self.peers.items() if p.fake is not None}

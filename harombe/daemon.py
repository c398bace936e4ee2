"""`Node`: one harombe peer, assembled from its parts (`harombe/node/`) and run.

Start-up order: backend → membership core → HTTP server (APIs, peer websocket) → discovery →
the record refresher. Shutdown runs in reverse through one `AsyncExitStack`, so a half-started
node unwinds only what it started: graceful leave first, then discovery, HTTP, transport and
backend.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from typing import Any

import aiohttp

from harombe.agent.service import AgentService
from harombe.api.agent_api import add_agent_routes
from harombe.api.exclusion_api import add_exclusion_route
from harombe.api.guard import ConnectionGuard
from harombe.api.join_api import add_join_route
from harombe.api.metrics import LiveParts
from harombe.api.peer_auth import RequestVerifier
from harombe.api.server import (
    HttpServer,
    client_tls_context,
    raise_open_file_limit,
    server_tls_context,
)
from harombe.cluster.membership import Membership, MemberView
from harombe.cluster.state import MemberState
from harombe.cluster.ws_transport import WebSocketTransport
from harombe.config import HarombeConfig
from harombe.drain import Drain
from harombe.hardware import HardwareInfo, detect_async
from harombe.inference.factory import open_backend
from harombe.inference.http1 import HttpClient
from harombe.inference.stats import MeasuredBackend
from harombe.node.agent import make_agent
from harombe.node.app import api_app, edge_middlewares, request_verifier
from harombe.node.connect import PeerConnector, request_signer
from harombe.node.discovery import Discovery
from harombe.node.gossip import Gossip
from harombe.node.lifecycle import Stacked
from harombe.node.listen import advertise_host, bind_socket, peer_transport
from harombe.node.monitoring import Monitoring, utilisation_sampler
from harombe.node.record import LocalRecord, ServedModels
from harombe.node.status import cluster_status
from harombe.node.tasks import cancel_task
from harombe.peer_log import KeyMismatchLog, MembershipLog
from harombe.routing.dispatch import Dispatcher
from harombe.routing.view import MembershipView
from harombe.sponsored import SponsoredNodes, SponsoringCoordinator
from harombe.stats.requests import RequestLog

log = logging.getLogger(__name__)

HTTP_SHUTDOWN_S = 0.1
"""The HTTP server's own grace for requests in flight when it closes: short, because the drain
(`limits.drain_timeout`) has already waited for them; what is left is cut."""


class Node(Stacked):
    """One running peer. Use as `async with Node(config) as node:`."""

    def __init__(self, config: HarombeConfig) -> None:
        super().__init__()
        self.config = config
        self.name = config.node.name
        self.address = ""  # host:port once the HTTP server is bound
        self.port = 0
        self.hardware: HardwareInfo | None = None
        self.backend: MeasuredBackend | None = None
        self.gossip: Gossip | None = None
        self.record: LocalRecord | None = None
        self.dispatcher: Dispatcher | None = None
        self.agent: AgentService | None = None
        self.transport: WebSocketTransport | None = None
        self.guard = ConnectionGuard(config.limits)
        self.verifier: RequestVerifier | None = None  # of forwarded requests' signatures
        self._sponsored: SponsoredNodes | None = None
        self._key_log = KeyMismatchLog()
        self._stopped = asyncio.Event()
        self.drain = Drain()
        mon = config.monitoring
        self.requests = RequestLog(slot_seconds=mon.slot_seconds, recent=mon.recent_requests)
        self.sampler = utilisation_sampler(mon)

    @property
    def membership(self) -> Membership | None:
        return self.gossip.membership if self.gossip else None

    async def _start(self) -> None:
        cfg = self.config
        raise_open_file_limit()
        if not cfg.security.cluster_key:
            log.warning(
                "no cluster key: this cluster is unauthenticated; anyone who can reach this "
                "peer can join it and answer its queries (`harombe cluster init` writes a key)"
            )
        self.hardware = await detect_async()
        await self.sampler.start()
        self._stack.push_async_callback(self.sampler.aclose)
        self.backend = await open_backend(cfg.backend)
        self._stack.push_async_callback(self.backend.aclose)
        served = ServedModels(self.backend, cfg.backend)
        await served.refresh()
        if cfg.backend.kind == "none":
            log.info("no backend (backend.kind: none): this peer routes requests to others")
        session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None),
            connector=aiohttp.TCPConnector(ssl=client_tls_context(cfg.tls) or True),
        )
        self._stack.push_async_callback(session.close)
        http = HttpClient(
            connect_timeout=cfg.routing.request_timeout, ssl_context=client_tls_context(cfg.tls)
        )
        self._stack.push_async_callback(http.aclose)
        await self._start_sponsored(session)
        # Bind first: with port 0 the real port is known only after binding, and the
        # membership record must carry the real address.
        sock = bind_socket(cfg.server.host, cfg.server.port)
        self.port = sock.getsockname()[1]
        host = advertise_host(cfg.server.host, cfg.server.advertise_host)
        self.address = f"{host}:{self.port}"
        self.record = LocalRecord(
            cfg,
            address=self.address,
            served=served,
            hardware=self.hardware,
            sampler=self.sampler,
            sponsored=self._sponsored,
            drain=self.drain,
        )
        transport = self._make_membership(session)
        self._make_dispatcher(session, http)
        await self._start_agent(session)
        await self._serve_http(sock, transport, session)
        log.info("node %s serving on %s (tier %d)", self.name, self.address, cfg.node.tier)
        gossip = self._started_gossip()
        discovery = Discovery(cfg, gossip=gossip, host=host, port=self.port, session=session)
        await self._stack.enter_async_context(discovery)
        refresher = asyncio.create_task(
            self.record.refresh_forever(gossip), name="harombe-record-refresh"
        )
        self._stack.push_async_callback(cancel_task, refresher)

    async def _start_sponsored(self, session: aiohttp.ClientSession) -> None:
        """The plain inference servers listed in `cluster.nodes`, checked once before the
        first record is gossiped (see harombe/sponsored.py)."""
        if self.config.cluster.coordinator is not None:
            log.info(
                "cluster.coordinator is accepted and not needed: every harombe peer "
                "coordinates the requests it receives; point clients at any peer"
            )
        self._sponsored = SponsoredNodes.from_config(self.config, session)
        self._stack.push_async_callback(self._sponsored.aclose)
        await self._sponsored.start()

    def _make_membership(self, session: aiohttp.ClientSession) -> WebSocketTransport:
        assert self.record
        cfg = self.config
        keyring = cfg.security.keyring()
        transport = peer_transport(
            cfg, address=self.address, on_frame=self._on_frame, session=session
        )
        self.gossip = Gossip(
            cfg.cluster.membership,
            name=self.name,
            address=self.address,
            record=self.record.build(),
            send=transport.send,
            clock=asyncio.get_running_loop().time,
            rng=random.Random(),
            label=cfg.cluster.label,
            keyring=keyring,
            generation=time.time_ns() // 1_000_000,
            wall_clock=time.time,
        )
        self.gossip.membership.on_change.append(MembershipLog())
        self.transport = transport
        self.verifier = request_verifier(
            keyring, self.name, aliases=[self.address], security=cfg.security
        )
        return transport

    def _make_dispatcher(self, session: aiohttp.ClientSession, http: HttpClient) -> None:
        assert self.gossip and self.record
        cfg = self.config
        connect = PeerConnector(
            session,
            http,
            self.name,
            request_signer(cfg.security.keyring(), self.name),
            timeout=cfg.routing.request_timeout,
            max_frame_bytes=cfg.limits.max_forward_frame_bytes,
            scheme=cfg.tls.scheme,
            sponsored=self._sponsored,
        )
        self.dispatcher = Dispatcher(
            node_name=self.name,
            local_backend=self.backend,
            view=MembershipView(self.gossip.membership),
            config=cfg.routing,
            connect=connect,
        )
        self._stack.push_async_callback(self.dispatcher.aclose)
        self.record.dispatcher = self.dispatcher
        self.gossip.membership.on_change.append(self._on_member_change)

    def _on_member_change(self, member: MemberView, previous: MemberState | None) -> None:
        """A node declared dead (or gone) aborts the answers this peer gets from it: they
        continue on another node at once instead of waiting out the chunk timeout."""
        if self.dispatcher and member.state.label in ("dead", "left") and not member.is_self:
            self.dispatcher.node_lost(member.name, f"was declared {member.state.label}")

    async def _start_agent(self, session: aiohttp.ClientSession) -> None:
        if not self.config.agent.enabled:
            return
        assert self.dispatcher and self.gossip and self.record
        agent = make_agent(
            self.config, dispatcher=self.dispatcher, gossip=self.gossip, session=session
        )
        self._stack.push_async_callback(agent.close)
        await agent.start()
        self.agent = self.record.agent = agent

    async def _serve_http(
        self, sock: socket.socket, transport: WebSocketTransport, session: aiohttp.ClientSession
    ) -> None:
        """The aiohttp app (APIs, peer websocket, monitoring), then membership starts."""
        assert self.dispatcher and self.gossip and self._sponsored
        cfg = self.config
        monitoring = Monitoring(
            cfg.monitoring,
            node_name=self.name,
            requests=self.requests,
            parts=LiveParts(
                self.gossip.membership,
                transport,
                self.verifier,
                self.dispatcher,
                self.backend,
                self.guard,
            ),
        )
        edge = edge_middlewares(
            cfg,
            guard=self.guard,
            drain=self.drain,
            verifier=self.verifier,
            sponsored=self._sponsored,
            ws_path=transport.path,
        )
        app = api_app(
            node_name=self.name,
            dispatcher=self.dispatcher,
            coordinator=SponsoringCoordinator(self.dispatcher, self._sponsored),
            limits=cfg.limits,
            middlewares=[*edge, monitoring.middleware],
            status=self.status,
            authenticated=bool(cfg.security.cluster_key),
        )
        transport.add_routes(app)
        add_join_route(app, self._join)
        monitoring.add_routes(
            app,
            session=session,
            signer=request_signer(cfg.security.keyring(), self.name),
            scheme=cfg.tls.scheme,
            peers=self.gossip.live_peers,
            status=self.status,
        )
        if self.agent:
            add_agent_routes(app, self.agent)
        add_exclusion_route(app, self._exclude)
        server = HttpServer(
            app,
            sock,
            guard=self.guard,
            ssl_context=server_tls_context(cfg.tls),
            handle_signals=False,
            shutdown_timeout=HTTP_SHUTDOWN_S,
            handler_cancellation=True,
        )
        await self._stack.enter_async_context(server)
        await transport.start()
        self._stack.push_async_callback(transport.close)
        self.gossip.start()
        self._stack.push_async_callback(self._leave)

    def _started_gossip(self) -> Gossip:
        assert self.gossip and self.gossip.started
        return self.gossip

    def _on_frame(self, data: bytes) -> bool:
        """Whether the frame was a cluster member's (an inbound socket must send one)."""
        if not (self.gossip and self.gossip.started):
            return False
        dropped = self.gossip.membership.stats.dropped
        refused = dropped["unauthenticated"]
        authentic = self.gossip.receive(data)
        if dropped["unauthenticated"] > refused:
            self._key_log.frame_refused(data)
        return authentic

    def _join(self, addresses: list[str]) -> None:
        self._started_gossip().join(addresses)

    def _exclude(self, name: str, excluded: bool) -> None:
        """Stop (or resume) routing to `name` cluster-wide: gossiped in this peer's record."""
        assert self.record
        self.record.exclude(name, excluded)
        self._publish_record()

    def _publish_record(self) -> None:
        if self.record and self.gossip and self.gossip.started:
            self.record.publish(self.gossip)

    async def _leave(self) -> None:
        if self.gossip:
            await self.gossip.stop(leave=True)

    def status(self) -> list[dict[str, Any]]:
        """The gossip view as /cluster/status reports it."""
        assert self.gossip
        return cluster_status(
            self.gossip.membership.members(),
            now=asyncio.get_running_loop().time(),
            breakers=self.dispatcher.breakers() if self.dispatcher else {},
            sampler=self.sampler,
        )

    async def serve_forever(self) -> bool:
        """Serve until `stop()`, then drain: refuse new work, gossip that this peer takes none,
        and wait up to `limits.drain_timeout` for the work in flight. True when it all
        finished; what is still running is cut when the node is closed."""
        await self._stopped.wait()
        timeout = self.config.limits.drain_timeout
        self.drain.begin()
        self._publish_record()
        if self.drain.in_flight:
            log.info(
                "draining: %d requests in flight, waiting up to %g s (a second signal stops "
                "at once)",
                self.drain.in_flight,
                timeout,
            )
        drained = await self.drain.wait(timeout)
        if not drained:
            log.warning("drain: %d requests still in flight are cut", self.drain.in_flight)
        return drained

    def stop(self) -> None:
        """The first call starts the drain (`serve_forever` returns after it); a second cuts
        it short."""
        if self._stopped.is_set():
            self.drain.cut()
        self._stopped.set()

"""`Node`: one harombe peer wired together — backend, membership, routing, HTTP.

Start-up order: backend → membership core → HTTP server (APIs, peer websocket) → discovery.
Shutdown runs in reverse through one `AsyncExitStack`, so a half-started node unwinds only what
it started: graceful leave first, then discovery, HTTP, transport and backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from typing import Any

import aiohttp
import psutil
from aiohttp import web

from harombe import __version__
from harombe.agent.peers import MembershipPeers, PeerLink
from harombe.agent.service import AgentService
from harombe.api.agent_api import add_agent_routes
from harombe.api.app import make_app
from harombe.api.cluster_api import add_cluster_routes
from harombe.api.dashboard_api import PAGE_PATHS, LiveFeed, add_dashboard_routes
from harombe.api.draining import drain_middleware
from harombe.api.edge import api_key_middleware
from harombe.api.exclusion_api import add_exclusion_route
from harombe.api.guard import ConnectionGuard
from harombe.api.join_api import add_join_route
from harombe.api.metrics import LiveParts, add_metrics_route, make_registry
from harombe.api.observe import observe_middleware
from harombe.api.peer_auth import RequestSigner, RequestVerifier, peer_auth_middleware
from harombe.api.server import (
    HttpServer,
    client_tls_context,
    peer_certificate_middleware,
    raise_open_file_limit,
    server_tls_context,
)
from harombe.api.stats_api import PeerStats, add_stats_routes
from harombe.cluster.discovery import MdnsDiscovery, SeedJoiner
from harombe.cluster.membership import Membership, MemberView
from harombe.cluster.record import NodeRecord
from harombe.cluster.runner import MembershipRunner
from harombe.cluster.state import MemberState
from harombe.cluster.ws_transport import WebSocketTransport
from harombe.config import HOME_DIR, HarombeConfig
from harombe.drain import Drain
from harombe.hardware import HardwareInfo, detect_async
from harombe.inference.factory import open_backend
from harombe.inference.peer import PeerBackend
from harombe.inference.peer_wire import HOP_HEADER
from harombe.inference.stats import MeasuredBackend
from harombe.inference.types import BackendError
from harombe.peer_log import BackendLog, KeyMismatchLog, MembershipLog, report_seeds
from harombe.routing.dispatch import Dispatcher
from harombe.routing.fit import advertised
from harombe.routing.view import Candidate, MembershipView, excluded_names
from harombe.sponsored import (
    LentBackend,
    SponsoredNodes,
    SponsoredPeerBackend,
    SponsoringCoordinator,
    sponsored_middleware,
    sponsored_status,
)
from harombe.stats.requests import RequestLog
from harombe.utilisation import Probe, UtilisationSampler

log = logging.getLogger(__name__)

RECORD_REFRESH_S = 1.0  # how often the local record is rebuilt; gossip rate-limits it further
MODELS_REFRESH_S = 5.0  # how often the backend's models (and so its health) are re-read
HTTP_SHUTDOWN_S = 0.1
"""The HTTP server's own grace for requests in flight when it closes: short, because the drain
(`limits.drain_timeout`) has already waited for them; what is left is cut."""


def advertise_host(bind_host: str, configured: str | None) -> str:
    """The address peers should dial: configured, the bind address, or a LAN address."""
    if configured:
        return configured
    if bind_host not in ("0.0.0.0", "::", ""):
        return bind_host
    for addrs in psutil.net_if_addrs().values():
        for addr in addrs:
            if addr.family.name == "AF_INET" and not addr.address.startswith("127."):
                return addr.address
    return "127.0.0.1"


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


class Node:
    """One running peer. Use as `async with Node(config) as node:`."""

    def __init__(self, config: HarombeConfig) -> None:
        self.config = config
        self.name = config.node.name
        self.address = ""  # host:port once the HTTP server is bound
        self.port = 0
        self.hardware: HardwareInfo | None = None
        self.backend: MeasuredBackend | None = None
        self.membership: Membership | None = None
        self.dispatcher: Dispatcher | None = None
        self.agent: AgentService | None = None
        self._runner: MembershipRunner | None = None
        self._transport: WebSocketTransport | None = None
        self._auth: RequestVerifier | None = None
        self.guard = ConnectionGuard(config.limits)
        self._models: tuple[list[str], list[str]] = ([], [])
        self._advertised: tuple[dict[str, int], list[str]] = ({}, [])  # context windows, tools
        self._backend_ok = False
        self._backend_log = BackendLog(
            config.backend.kind, _backend_location(config), MODELS_REFRESH_S
        )
        self._key_log = KeyMismatchLog()
        self._sponsored: SponsoredNodes | None = None
        self._excluded: set[str] = set(config.cluster.excluded)
        self._stack = contextlib.AsyncExitStack()
        self._stopped = asyncio.Event()
        self.drain = Drain()
        mon = config.monitoring
        self.requests = RequestLog(slot_seconds=mon.slot_seconds, recent=mon.recent_requests)
        self.sampler = UtilisationSampler(
            Probe(),
            interval=mon.sample_interval,
            stale_after=mon.stale_after,
            deadband_pct=mon.gossip_deadband_pct,
            deadband_mib=mon.gossip_deadband_mib,
            min_interval=mon.gossip_min_interval,
            interval_per_peer=mon.gossip_interval_per_peer,
        )

    async def __aenter__(self) -> Node:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._stack.aclose()

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
        await self._refresh_backend()
        if cfg.backend.kind == "none":
            log.info("no backend (backend.kind: none): this peer routes requests to others")
        session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None),
            connector=aiohttp.TCPConnector(ssl=client_tls_context(cfg.tls) or True),
        )
        self._stack.push_async_callback(session.close)
        await self._start_sponsored(session)
        # Bind first: with port 0 the real port is known only after binding, and the
        # membership record must carry the real address.
        sock = bind_socket(cfg.server.host, cfg.server.port)
        self.port = sock.getsockname()[1]
        host = advertise_host(cfg.server.host, cfg.server.advertise_host)
        self.address = f"{host}:{self.port}"
        transport = self._make_membership(session)
        self._make_dispatcher(session)
        await self._start_agent(session)
        await self._serve_http(sock, transport, session)
        log.info("node %s serving on %s (tier %d)", self.name, self.address, cfg.node.tier)
        await self._start_discovery(host, session)
        refresher = asyncio.create_task(self._refresh_loop(), name="harombe-record-refresh")
        self._stack.push_async_callback(_cancel, refresher)

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
        cfg = self.config
        keyring = cfg.security.keyring()
        transport = WebSocketTransport(
            local_address=self.address,
            on_frame=self._on_frame,
            max_frame_bytes=cfg.cluster.membership.max_frame_bytes,
            session=session,
            scheme=cfg.tls.scheme,
            max_inbound=cfg.limits.max_peer_websockets,
            handshake_timeout=cfg.limits.ws_handshake_timeout,
            log_interval=cfg.limits.log_interval,
            **cfg.cluster.transport.model_dump(),
        )
        self.membership = Membership(
            cfg.cluster.membership,
            name=self.name,
            address=self.address,
            record=self._build_record(),
            send=transport.send,
            now=asyncio.get_running_loop().time(),
            rng=random.Random(),
            label=cfg.cluster.label,
            keyring=keyring,
            generation=time.time_ns() // 1_000_000,
            wall_clock=time.time,
        )
        self.membership.on_change.append(MembershipLog())
        self._transport = transport
        security = cfg.security
        self._auth = (
            RequestVerifier(
                keyring,
                destination=self.name,
                aliases=[self.address],
                window=security.request_window,
                nonces_per_sender=security.request_nonces_per_sender,
                max_senders=security.request_max_senders,
            )
            if keyring
            else None
        )
        return transport

    def _make_dispatcher(self, session: aiohttp.ClientSession) -> None:
        assert self.membership
        cfg = self.config
        keyring = cfg.security.keyring()
        signer = RequestSigner(keyring, sender=self.name) if keyring else None
        self.dispatcher = Dispatcher(
            node_name=self.name,
            local_backend=self.backend,
            view=MembershipView(self.membership),
            config=cfg.routing,
            connect=lambda c: self._connect(c, session, signer),
        )
        self._stack.push_async_callback(self.dispatcher.aclose)
        self.membership.on_change.append(self._on_member_change)

    def _on_member_change(self, member: MemberView, previous: MemberState | None) -> None:
        """A node declared dead (or gone) aborts the answers this peer gets from it: they
        continue on another node at once instead of waiting out the chunk timeout."""
        if self.dispatcher and member.state.label in ("dead", "left") and not member.is_self:
            self.dispatcher.node_lost(member.name, f"was declared {member.state.label}")

    async def _start_agent(self, session: aiohttp.ClientSession) -> None:
        cfg = self.config
        if not cfg.agent.enabled:
            return
        assert self.dispatcher
        keyring = cfg.security.keyring()
        link = PeerLink(
            session,
            origin=self.name,
            signer=RequestSigner(keyring, sender=self.name) if keyring else None,
            timeout=cfg.agent.fetch_timeout,
            scheme=cfg.tls.scheme,
        )
        agent = AgentService(
            cfg.agent,
            node_name=self.name,
            home=HOME_DIR,
            coordinator=self.dispatcher,
            peers=MembershipPeers(self._members),
            link=link,
        )
        self._stack.push_async_callback(agent.close)
        await agent.start()
        self.agent = agent

    def _connect(
        self, c: Candidate, session: aiohttp.ClientSession, signer: RequestSigner | None
    ) -> Any:
        """The backend for a node routing picked that is not this peer itself."""
        own = self._sponsored.backend(c.name) if self._sponsored and c.via == self.name else None
        if own is not None:
            return LentBackend(own)
        peer = dict(
            session=session,
            auth=signer,
            origin=self.name,
            destination=c.via or c.name,  # the peer that receives it: a plain server's sponsor
            timeout=self.config.routing.request_timeout,
            max_frame_bytes=self.config.limits.max_forward_frame_bytes,
            scheme=self.config.tls.scheme,
        )
        if c.via:
            return SponsoredPeerBackend(c.address, node=c.name, **peer)
        return PeerBackend(c.address, **peer)

    async def _serve_http(
        self, sock: socket.socket, transport: WebSocketTransport, session: aiohttp.ClientSession
    ) -> None:
        """The aiohttp app (APIs, peer websocket, monitoring), then the membership runner."""
        assert self.dispatcher and self.membership and self._sponsored
        cfg = self.config
        registry, request_metrics = make_registry(
            LiveParts(
                self.membership, transport, self._auth, self.dispatcher, self.backend, self.guard
            )
        )
        app = make_app(
            node_name=self.name,
            coordinator=SponsoringCoordinator(self.dispatcher, self._sponsored),
            limits=cfg.limits,
            middlewares=[
                *self._edge_middlewares(transport.path),
                observe_middleware([self.requests, request_metrics]),
            ],
        )
        transport.add_routes(app)
        add_cluster_routes(
            app,
            dispatcher=self.dispatcher,
            status_provider=self.status,
            authenticated=bool(cfg.security.cluster_key),
        )
        add_join_route(app, self._join)
        add_metrics_route(app, registry)
        self._add_monitoring_routes(app, session)
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
        self._runner = MembershipRunner(self.membership)
        self._runner.start()
        self._stack.push_async_callback(self._leave)

    def _edge_middlewares(self, ws_path: str) -> list[Any]:
        """Outermost first: connection tracking, draining, peer certificates, API keys, peer
        signatures, then the mark of a forwarded request for a plain server this peer
        sponsors."""
        security = self.config.security
        middlewares = [self.guard.middleware(), drain_middleware(self.drain, self.name)]
        if self.config.tls.ca is not None:
            middlewares.append(peer_certificate_middleware(frozenset({ws_path}), HOP_HEADER))
        if security.api_keys:
            # The dashboard's page and assets hold no data; its event stream needs the key.
            open_paths = [ws_path, *PAGE_PATHS]
            middlewares.append(api_key_middleware(security.api_keys, peer_paths=open_paths))
        middlewares.append(
            peer_auth_middleware(self._auth, log_interval=self.config.limits.log_interval)
        )
        assert self._sponsored
        middlewares.append(sponsored_middleware(self._sponsored))
        return middlewares

    def _add_monitoring_routes(self, app: web.Application, session: aiohttp.ClientSession) -> None:
        mon = self.config.monitoring
        keyring = self.config.security.keyring()
        fetcher = PeerStats(
            session,
            timeout=mon.cluster_stats_timeout,
            signer=RequestSigner(keyring, sender=self.name) if keyring else None,
            scheme=self.config.tls.scheme,
        )
        add_stats_routes(
            app,
            log=self.requests,
            node_name=self.name,
            peers=self._live_peers,
            fetcher=fetcher,
            max_recent=mon.recent_requests,
        )
        feed = LiveFeed(self.requests, interval=mon.live_interval, max_clients=mon.max_live_clients)
        add_dashboard_routes(
            app, log=self.requests, node_name=self.name, status=self.status, feed=feed
        )

    def _live_peers(self) -> dict[str, str]:
        """Name → address of every other peer this node sees alive."""
        assert self.membership
        return {
            m.name: m.address
            for m in self.membership.members()
            if m.state.label == "alive" and not m.is_self
        }

    async def _start_discovery(self, host: str, session: aiohttp.ClientSession) -> None:
        cfg = self.config.cluster
        discovery = self.config.discovery
        if discovery.uses_mdns(cfg):
            mdns = MdnsDiscovery(
                name=self.name,
                label=cfg.label,
                api_port=self.port,
                host=host,
                interfaces=cfg.mdns_interfaces,
                on_peer=self._on_discovered,
                service_type=discovery.service,
            )
            await mdns.start()
            self._stack.push_async_callback(mdns.close)
        listed = cfg.seed_addresses() if discovery.uses_seeds() else []
        seeds = [s for s in listed if s != self.address]
        if seeds:
            joiner = SeedJoiner(
                seeds,
                join=self._join,
                is_joined=self._is_joined,
                known_addresses=self._alive_addresses,
            )
            await joiner.start()
            self._stack.push_async_callback(joiner.close)
            timeout = cfg.transport.connect_timeout
            reporter = asyncio.create_task(
                report_seeds(session, seeds, timeout, self.config.tls.scheme),
                name="harombe-seed-report",
            )
            self._stack.push_async_callback(_cancel, reporter)

    def _on_frame(self, data: bytes) -> bool:
        """Whether the frame was a cluster member's (an inbound socket must send one)."""
        if not (self._runner and self.membership):
            return False
        dropped = self.membership.stats.dropped
        refused = dropped["unauthenticated"]
        authentic = self._runner.receive(data)
        if dropped["unauthenticated"] > refused:
            self._key_log.frame_refused(data)
        return authentic

    def _on_discovered(self, address: str) -> None:
        if address != self.address:
            self._join([address])

    def _join(self, addresses: list[str]) -> None:
        assert self.membership and self._runner
        self.membership.join(addresses, asyncio.get_running_loop().time())
        self._runner.wake()

    def _members(self) -> list[MemberView]:
        return self.membership.members() if self.membership else []

    def _exclude(self, name: str, excluded: bool) -> None:
        """Stop (or resume) routing to `name` cluster-wide: gossiped in this peer's record."""
        if excluded:
            self._excluded.add(name)
            log.info("excluding node %s: the cluster stops routing to it", name)
        elif name in self._excluded:
            self._excluded.discard(name)
            log.info("node %s no longer excluded", name)
        self._publish_record()

    def _publish_record(self) -> None:
        if self.membership and self._runner:
            loop = asyncio.get_running_loop()
            self.membership.update_record(self._build_record(), loop.time())
            self._runner.wake()

    def _alive_addresses(self) -> set[str]:
        assert self.membership
        return {m.address for m in self.membership.members() if m.state.label == "alive"}

    def _alive_count(self) -> int:
        return self.membership.alive_count() if self.membership else 1

    def _is_joined(self) -> bool:
        return self.membership is not None and self.membership.alive_count() > 1

    async def _leave(self) -> None:
        if self._runner:
            await self._runner.stop(leave=True)

    async def _refresh_backend(self) -> None:
        """Re-read the backend's models; a backend that cannot list them is gossiped as down,
        so peers stop sending it work until it answers again."""
        assert self.backend
        try:
            infos = await self.backend.list_models()
            models = [m.name for m in infos]
            loaded = [m.name for m in await self.backend.loaded_models()]
        except (BackendError, OSError, TimeoutError) as exc:
            self._backend_log.failed(exc)
            self._backend_ok = False
            return
        self._models = (models, loaded)
        self._advertised = advertised(infos)
        self._backend_ok = self.backend.kind != "none"
        if self._backend_ok:
            self._backend_log.answered(models)

    def _build_record(self) -> NodeRecord:
        cfg = self.config
        ttft, tps = self.backend.stats.snapshot() if self.backend else ({}, {})
        load = self.dispatcher.load() if self.dispatcher else (0, 0)
        return NodeRecord(
            name=self.name,
            address=self.address,
            tier=cfg.node.tier,
            models=self._models[0],
            loaded=self._models[1],
            hardware=self.hardware.summary() if self.hardware else {},
            capacity=cfg.node.capacity,
            active=load[0],
            queue=load[1],
            tps=tps,
            ttft=ttft,
            backend_ok=self._backend_ok,
            version=__version__,
            ctx=self._advertised[0],
            tool_models=self._advertised[1],
            tools=self.agent.shared_tools() if self.agent else [],
            utilisation=self.sampler.gossiped(self._alive_count()),
            sponsored=self._sponsored.entries() if self._sponsored else [],
            # A draining peer excludes itself: coordinators stop choosing it.
            excluded=sorted(self._excluded | ({self.name} if self.drain.draining else set())),
        )

    async def _refresh_loop(self) -> None:
        loop = asyncio.get_running_loop()
        last_models = loop.time()
        while True:
            await asyncio.sleep(RECORD_REFRESH_S)
            if loop.time() - last_models >= MODELS_REFRESH_S:
                await self._refresh_backend()
                last_models = loop.time()
            self._publish_record()

    def status(self) -> list[dict[str, Any]]:
        """The gossip view as /cluster/status reports it."""
        assert self.membership
        now = asyncio.get_running_loop().time()
        breakers = self.dispatcher.breakers() if self.dispatcher else {}
        members = self.membership.members()
        excluded = excluded_names(members)
        nodes = []
        for m in members:
            rec = m.record
            nodes.append(
                {
                    "name": m.name,
                    "address": m.address,
                    "state": m.state.label,
                    "available": m.state.label == "alive" and bool(rec and rec.backend_ok),
                    "self": m.is_self,
                    "incarnation": m.incarnation,
                    "tier": rec.tier if rec else None,
                    "models": rec.models if rec else [],
                    "loaded": rec.loaded if rec else [],
                    "active": rec.active if rec else 0,
                    "queue": rec.queue if rec else 0,
                    "capacity": rec.capacity if rec else 0,
                    "load": round(rec.active / rec.capacity, 3) if rec and rec.capacity else 0.0,
                    "tps": rec.tps if rec else {},
                    "ttft": rec.ttft if rec else {},
                    "backend_ok": rec.backend_ok if rec else False,
                    "hardware": rec.hardware if rec else {},
                    "version": rec.version if rec else None,
                    "rtt_ms": round(m.rtt * 1000, 3) if m.rtt is not None else None,
                    "last_update_s": round(now - m.last_update, 3),
                    "state_since_s": round(now - m.state_since, 3),
                    "breaker": breakers.get(m.name, "closed"),
                    "utilisation": self._utilisation(m.is_self, m.state.label, rec),
                    "utilisation_age_s": self._utilisation_age(m.is_self, now - m.last_update),
                    "excluded": m.name in excluded,
                }
            )
        return nodes + sponsored_status(members, excluded, breakers)

    def _utilisation(
        self, is_self: bool, state: str, rec: NodeRecord | None
    ) -> dict[str, Any] | None:
        """This node's latest sample; a peer's as gossiped (within the deadband), but none
        for a dead or departed one: its last sample says nothing about it now."""
        sample = self.sampler.current() if is_self else rec.utilisation if rec else None
        if sample is None or state not in ("alive", "suspect"):
            return None
        return sample.as_dict()

    def _utilisation_age(self, is_self: bool, since_update: float) -> float | None:
        """How old the shown sample is: exact for this node; for a peer, the time since its
        record last changed (it gossips every change of a quantized sample, and withdraws a
        stale one, so an unchanged sample from a live peer is still current)."""
        age = self.sampler.age() if is_self else since_update
        return None if age is None else round(age, 3)

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


def _backend_location(config: HarombeConfig) -> str:
    """Where the local backend is, for the log: its URL, or the GGUF it serves."""
    backend = config.backend
    if backend.kind == "llamacpp":
        return str(backend.gguf) if backend.gguf else "the built-in demo model"
    return backend.resolved_url() or "-"


async def _cancel(task: asyncio.Task[Any]) -> None:
    """Cancel `task` and wait for it; the caller's own cancellation is never swallowed."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise

"""Plain inference servers in `cluster.nodes`: the seed notes' rented cloud box, say, running
Ollama or an OpenAI-compatible server with a token, and no harombe of its own.

Each peer that lists such a server *sponsors* it: it finds out what it is (unless `kind` says),
checks its health every `cluster.node_check_interval` seconds, and puts it in its gossiped
record (`NodeRecord.sponsored`: name, tier, models, ok). Every peer's routing view then holds it
as a node whose address is a sponsor's (`routing.view.sponsored_candidates`), so requests
reach it through the sponsor even from peers that cannot reach it themselves: the forwarded
request names it in `X-Harombe-Sponsored`, and the sponsor serves it with a backend for the
plain server, sending the server its bearer token.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from harombe.cluster.record import MAX_SPONSORED, SponsoredNode
from harombe.cluster.state import MemberState
from harombe.config import HarombeConfig, SeedNode
from harombe.inference.peer import PeerBackend
from harombe.inference.peer_wire import HOP_HEADER, SPONSORED_HEADER
from harombe.inference.types import Backend, BackendError, ChatChunk, ChatRequest
from harombe.routing.route import Coordinator, LocalCoordinator, RouteOptions
from harombe.routing.view import sponsored_candidates

log = logging.getLogger("harombe.peer")

MAX_NAME = 128
"""Longest node name (config.SeedNode.name); a longer header is cut to it."""
_PROBES = {"harombe": "/health", "ollama": "/api/version", "openai": "/v1/models"}
"""What each kind answers and the others do not, asked in this order: a harombe peer also speaks
both APIs, and llama.cpp's server also lists models at /api/tags, but only Ollama says its
version at /api/version."""
_serving: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "harombe_sponsored", default=None
)


async def detect_kind(
    session: aiohttp.ClientSession, node: SeedNode, limit_s: float
) -> tuple[str | None, str]:
    """What `node` is: "harombe", "ollama" or "openai" (its `kind` when given, else the first
    whose characteristic endpoint answers as that kind, see _PROBES), and why not when
    nothing answered."""
    problem = "no answer"
    for kind in (node.kind,) if node.kind else tuple(_PROBES):
        url = node.url(kind) + _PROBES[kind]
        try:
            timeout = aiohttp.ClientTimeout(total=limit_s)
            async with session.get(url, headers=_auth(node), timeout=timeout) as resp:
                body = await resp.json(content_type=None) if resp.status == 200 else None
                problem = f"{url} answered HTTP {resp.status}"
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            problem = f"{url}: {str(exc) or type(exc).__name__}"
            continue
        if isinstance(body, dict) and _looks_like(kind, body):
            return kind, ""
    return None, problem


def _looks_like(kind: str, body: dict[str, Any]) -> bool:
    if kind == "harombe":
        return "node" in body and "version" in body
    if kind == "ollama":
        return isinstance(body.get("version"), str)
    return isinstance(body.get("data"), list)


def _auth(node: SeedNode) -> dict[str, str]:
    return {"Authorization": f"Bearer {node.auth}"} if node.auth else {}


def open_plain_backend(node: SeedNode, kind: str, timeout: float) -> Backend:
    if kind == "ollama":
        from harombe.inference.ollama import OllamaBackend

        return OllamaBackend(
            node.url(kind), default_model=node.model, timeout=timeout, api_key=node.auth
        )
    from harombe.inference.openai_compat import OpenAIBackend

    return OpenAIBackend(
        node.url(kind), api_key=node.auth, default_model=node.model, timeout=timeout
    )


@dataclass
class PlainServer:
    node: SeedNode
    kind: str | None = None
    backend: Backend | None = None
    ok: bool = False
    models: list[str] = field(default_factory=list)
    problem: str | None = None  # the last one logged, so each is said once

    def entry(self) -> SponsoredNode:
        tier = self.node.tier if self.node.tier is not None else 0
        return SponsoredNode(self.node.name, tier, list(self.models), self.ok, self.kind or "")


class SponsoredNodes:
    """The plain servers this peer sponsors: detection, health checks, their backends."""

    def __init__(
        self,
        nodes: list[SeedNode],
        *,
        session: aiohttp.ClientSession,
        interval: float,
        check_timeout: float,
        backend_timeout: float,
    ) -> None:
        if len(nodes) > MAX_SPONSORED:
            raise ValueError(
                f"cluster.nodes: at most {MAX_SPONSORED} plain inference servers per peer"
            )
        self._servers = {n.name: PlainServer(n, kind=n.kind) for n in nodes}
        self._session = session
        self._interval = interval
        self._check_timeout = check_timeout
        self._backend_timeout = backend_timeout
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_config(cls, config: HarombeConfig, session: aiohttp.ClientSession) -> SponsoredNodes:
        """The listed nodes that are not declared harombe peers (each may turn out to be one)."""
        cluster = config.cluster
        return cls(
            [n for n in cluster.nodes if n.kind != "harombe"],
            session=session,
            interval=cluster.node_check_interval,
            check_timeout=cluster.node_check_timeout,
            backend_timeout=config.backend.timeout,
        )

    async def start(self) -> None:
        if self._servers:
            await self.check_all()
            self._task = asyncio.create_task(self._run(), name="harombe-sponsored-checks")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for server in self._servers.values():
            if server.backend is not None:
                await server.backend.aclose()

    def entries(self) -> list[SponsoredNode]:
        """The plain servers for this peer's record: those found out to be one (a listed node
        that never answered may as well be a harombe peer that is switched off)."""
        return [s.entry() for s in self._servers.values() if s.kind in ("ollama", "openai")]

    def backend(self, name: str) -> Backend | None:
        server = self._servers.get(name)
        return server.backend if server is not None and server.kind != "harombe" else None

    def tier(self, name: str) -> int:
        return self._servers[name].entry().tier

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.check_all()

    async def check_all(self) -> None:
        await asyncio.gather(*(self._check(s) for s in self._servers.values()))

    async def _check(self, server: PlainServer) -> None:
        node = server.node
        if server.kind == "harombe":
            return
        if server.backend is None:
            kind, problem = await detect_kind(self._session, node, self._check_timeout)
            if kind is None:
                self._failed(server, f"unreachable ({problem})")
                return
            server.kind = kind
            if kind == "harombe":
                log.info("listed node %s is a harombe peer: joined like a seed", node.name)
                return
            server.backend = open_plain_backend(node, kind, self._backend_timeout)
        try:
            async with asyncio.timeout(self._check_timeout):
                listed = [m.name for m in await server.backend.list_models()]
        except (BackendError, OSError, TimeoutError) as exc:
            self._failed(server, f"unreachable ({str(exc) or type(exc).__name__})")
            return
        if node.model and node.model not in listed:
            self._failed(server, f"does not serve {node.model} (it lists {', '.join(listed)})")
            return
        server.models = [node.model] if node.model else listed
        if not server.ok:
            log.info(
                "plain %s server %s at %s answers (tier %d; models: %s); sponsored by this peer",
                server.kind,
                node.name,
                node.url(server.kind),
                server.entry().tier,
                ", ".join(server.models) or "none",
            )
        server.ok, server.problem = True, None

    def _failed(self, server: PlainServer, problem: str) -> None:
        server.ok = False
        if server.problem != problem:
            server.problem = problem
            log.warning(
                "listed node %s %s; not routed to until it answers (checked every %.0f s)",
                server.node.name,
                problem,
                self._interval,
            )


class SponsoredPeerBackend(PeerBackend):
    """A peer that sponsors a plain server, asked to serve a request with that server."""

    def __init__(self, address: str, *, node: str, **kwargs: Any) -> None:
        super().__init__(address, **kwargs)
        self.node = node

    def _signed_headers(self) -> dict[str, str]:
        return {SPONSORED_HEADER: self.node}


class LentBackend:
    """A sponsored server's backend handed to the dispatcher, which may close what it is given:
    closing this leaves the backend open for its owner (`SponsoredNodes`)."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        return self._backend.chat(request)

    async def aclose(self) -> None:
        return None


class SponsoringCoordinator:
    """The app's coordinator: the dispatcher, except for forwarded requests naming a plain
    server this peer sponsors, which that server's backend serves."""

    def __init__(self, dispatcher: Coordinator, nodes: SponsoredNodes) -> None:
        self._dispatcher = dispatcher
        self._nodes = nodes

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dispatcher, name)

    def open(self, request: ChatRequest, options: RouteOptions) -> Any:
        name = _serving.get()
        backend = self._nodes.backend(name) if name and options.local_only else None
        if backend is None:
            return self._dispatcher.open(request, options)
        return LocalCoordinator(name, self._nodes.tier(name), backend).open(request, options)

    async def models(self) -> Any:
        return await self._dispatcher.models()


def sponsored_status(
    members: list[Any], excluded: set[str], breakers: dict[str, str]
) -> list[dict[str, Any]]:
    """/cluster/status rows for the plain servers in the view, each named with the sponsor
    routing reaches it through (`via`) and every peer sponsoring it (`sponsors`)."""
    sponsors: dict[str, list[str]] = {}
    for m in members:
        if m.state is MemberState.ALIVE and m.record is not None:
            for node in m.record.sponsored:
                sponsors.setdefault(node.name, []).append(m.name)
    rows = []
    for c in sponsored_candidates(
        [m for m in members if m.state is MemberState.ALIVE and m.record]
    ):
        rows.append(
            {
                "name": c.name,
                "address": c.address,
                "state": "alive" if c.backend_ok else "unreachable",
                "available": c.backend_ok,
                "self": False,
                "kind": c.hardware.get("kind", ""),
                "via": c.via,
                "sponsors": sorted(sponsors.get(c.name, [])),
                "tier": c.tier,
                "models": c.models,
                "loaded": c.loaded,
                "active": 0,
                "queue": 0,
                "capacity": c.capacity,
                "load": 0.0,
                "backend_ok": c.backend_ok,
                "hardware": c.hardware,
                "rtt_ms": round(c.rtt * 1000, 3) if c.rtt is not None else None,
                "breaker": breakers.get(c.name, "closed"),
                "excluded": c.name in excluded,
            }
        )
    return rows


def sponsored_middleware(nodes: SponsoredNodes) -> Middleware:
    """Marks a forwarded request naming a sponsored server (after peer authentication)."""

    @web.middleware
    async def serve_sponsored(request: web.Request, handler: Handler) -> web.StreamResponse:
        name = request.headers.get(SPONSORED_HEADER)
        if name is None or HOP_HEADER not in request.headers:
            return await handler(request)
        name = name[:MAX_NAME]
        if nodes.backend(name) is None:  # 503: the sender tries another node
            return web.json_response(
                {"error": f"this peer does not sponsor a node named {name!r}"}, status=503
            )
        token = _serving.set(name)
        try:
            return await handler(request)
        finally:
            _serving.reset(token)

    return serve_sponsored

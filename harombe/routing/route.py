"""What the HTTP APIs ask of routing: open a routed answer stream, list the cluster's models.

`Coordinator` is implemented by the cluster-wide dispatcher in `harombe.routing.dispatch`, and
by `LocalCoordinator` (one backend, no routing), with which a peer serves a forwarded request
for a plain server it sponsors (`harombe.sponsored`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Protocol

from harombe.inference.types import (
    Backend,
    BackendError,
    ChatChunk,
    ChatRequest,
    EmbedRequest,
    EmbedResult,
    LoadedModel,
    ModelInfo,
)

VIRTUAL_MODELS = ("auto", "tier-0", "tier-1", "tier-2")


class UnavailableError(BackendError):
    """No node can take the request now; `retry_after` (seconds) is the client's hint."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, status=503, retryable=False)
        self.retry_after = retry_after


@dataclass
class RouteOptions:
    prefer_tier: int | None = None  # user's override (X-Harombe-Tier, prefer_tier, --tier)
    local_only: bool = False  # set for requests forwarded by a peer (hop header): never re-route
    timeout: float | None = None  # seconds for the whole answer; None: the routing default


@dataclass
class Switch:
    """A change of serving node during one answer (before or after the first token)."""

    from_node: str
    to_node: str
    reason: str
    after_chars: int  # how much of the answer had been delivered when it happened


@dataclass
class RouteInfo:
    """Where an answer went and why; filled in while the stream runs."""

    node: str | None = None  # the node serving now (the last one, once done)
    tier: int | None = None  # tier of the serving node
    classified_tier: int | None = None
    model: str | None = None
    fallbacks: list[Switch] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    first_token_s: float | None = None
    total_s: float | None = None

    def as_dict(self) -> dict:
        return {
            "node": self.node,
            "tier": self.tier,
            "classified_tier": self.classified_tier,
            "model": self.model,
            "fallbacks": [vars(s) for s in self.fallbacks],
            "timings": {"first_token_s": self.first_token_s, "total_s": self.total_s},
        }


class RoutedStream(Protocol):
    route: RouteInfo

    def __aiter__(self) -> AsyncIterator[ChatChunk]: ...


@dataclass
class Embedded:
    """Embeddings and the node that computed them."""

    result: EmbedResult
    route: RouteInfo

    @classmethod
    def empty(cls, model: str | None) -> Embedded:
        """The answer to nothing to embed (Ollama's "load" call): no node asked."""
        return cls(EmbedResult(embeddings=[], model=model), RouteInfo(model=model, total_s=0.0))

    @property
    def duration_ns(self) -> int:
        return int((self.route.total_s or 0.0) * 1e9)


@dataclass
class ClusterModel:
    info: ModelInfo
    nodes: list[str]  # nodes that serve it
    loaded_on: list[str] = field(default_factory=list)
    loaded: LoadedModel | None = None  # this node's own backend's view of it, when loaded here


class Coordinator(Protocol):
    def open(self, request: ChatRequest, options: RouteOptions) -> RoutedStream:
        """Start routing `request`; iterate the result for the answer's chunks.

        The first chunk is yielded only once a node has started answering, so `route.node` is
        known by then. Raises BackendError (status 404 unknown model, 503 nothing available).
        """
        ...

    async def embed(self, request: EmbedRequest, options: RouteOptions) -> Embedded:
        """Embed with a node serving `request.model` (a real model: no tier applies).
        Raises BackendError as `open` does."""
        ...

    async def models(self) -> list[ClusterModel]: ...


class _LocalStream:
    def __init__(self, node_name: str, tier: int, backend: Backend, request: ChatRequest) -> None:
        self.route = RouteInfo(node=node_name, tier=tier, model=request.model)
        self._backend = backend
        self._request = request

    async def __aiter__(self) -> AsyncIterator[ChatChunk]:
        async with aclosing(self._backend.chat(self._request)) as chunks:
            async for chunk in chunks:
                if self.route.first_token_s is None:
                    self.route.first_token_s = time.monotonic() - self.route.started
                if chunk.model:
                    self.route.model = chunk.model
                if chunk.done:
                    self.route.total_s = time.monotonic() - self.route.started
                yield chunk


class LocalCoordinator:
    """Serves every request with this node's own backend."""

    def __init__(self, node_name: str, tier: int, backend: Backend) -> None:
        self.node_name = node_name
        self.tier = tier
        self.backend = backend

    def open(self, request: ChatRequest, options: RouteOptions) -> _LocalStream:
        if request.model in VIRTUAL_MODELS:
            request.model = None
        return _LocalStream(self.node_name, self.tier, self.backend, request)

    async def embed(self, request: EmbedRequest, options: RouteOptions) -> Embedded:
        route = RouteInfo(node=self.node_name, tier=self.tier, model=request.model)
        result = await self.backend.embed(request)
        route.model = result.model or request.model
        route.total_s = time.monotonic() - route.started
        return Embedded(result, route)

    async def models(self) -> list[ClusterModel]:
        loaded = {m.name: m for m in await self.backend.loaded_models()}
        return [
            ClusterModel(
                info=m,
                nodes=[self.node_name],
                loaded_on=[self.node_name] if m.name in loaded else [],
                loaded=loaded.get(m.name),
            )
            for m in await self.backend.list_models()
        ]

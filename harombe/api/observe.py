"""Seeing each request this peer coordinates end: a middleware and a stream wrapper.

The middleware opens a `Trace` for every answer request (Ollama, OpenAI, `/cluster/execute`)
that a client sent — not the ones a peer forwarded here (hop header): those were coordinated,
and are counted, by that peer. The routed answer (`api.answer.Answer`) notes in the
`current_trace()` the route, the first chunk, the final chunk's token counts and any failure.
When the handler returns (or raises, or the client leaves) the middleware turns the trace into one
`FinishedRequest` and tells every `RequestObserver`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from harombe.api.peer_auth import HOP_HEADER
from harombe.inference.types import ChatChunk
from harombe.routing.route import RouteInfo
from harombe.stats.requests import FinishedRequest, fallback_reason

ANSWER_PATHS = {
    "/api/chat": "ollama",
    "/api/generate": "ollama",
    "/v1/chat/completions": "openai",
    "/v1/completions": "openai",
    "/cluster/execute": "cluster",
}
"""The endpoints whose requests are routed answers, and the API each belongs to."""


class RequestObserver(Protocol):
    def finished(self, request: FinishedRequest) -> None:
        """Called once per request, on the event loop; must not block."""
        ...


@dataclass
class Trace:
    api: str
    started: float
    route: RouteInfo | None = None
    first_chunk: float | None = None
    final: ChatChunk | None = None
    failed_status: int | None = None  # a BackendError's status, seen in the stream

    def saw(self, chunk: ChatChunk) -> None:
        if self.first_chunk is None:
            self.first_chunk = time.monotonic()
        if chunk.done:
            self.final = chunk

    def outcome(self, status: int | None) -> str:
        """From what the stream saw and the HTTP status (None: the client left)."""
        if self.final is not None:
            return "ok"
        code = self.failed_status or (status if status is not None and status >= 400 else None)
        if code is None:
            return "cancelled"
        if code == 503:
            return "unavailable"
        if code == 504:
            return "timeout"
        return "client_error" if 400 <= code < 500 else "error"

    def finish(self, status: int | None) -> FinishedRequest:
        now = time.monotonic()
        route = self.route or RouteInfo()
        final = self.final
        return FinishedRequest(
            at=time.time(),
            api=self.api,
            outcome=self.outcome(status),
            node=route.node,
            tier=route.tier,
            classified_tier=route.classified_tier,
            model=route.model,
            fallbacks=tuple(fallback_reason(s.reason) for s in route.fallbacks),
            ttft_s=None if self.first_chunk is None else self.first_chunk - self.started,
            duration_s=now - self.started,
            tokens_in=(final.prompt_tokens or 0) if final else 0,
            tokens_out=(final.completion_tokens or 0) if final else 0,
        )


_current: ContextVar[Trace | None] = ContextVar("harombe_request_trace", default=None)


def current_trace() -> Trace | None:
    """The trace of the request being handled, if it is one the middleware observes."""
    return _current.get()


def observe_middleware(observers: Sequence[RequestObserver]) -> Middleware:
    """Tell `observers` of every answer request as it ends (see the module docstring)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        api = ANSWER_PATHS.get(request.path)
        if api is None or request.method != "POST" or HOP_HEADER in request.headers:
            return await handler(request)
        trace = Trace(api, time.monotonic())
        token = _current.set(trace)
        status: int | None = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = None
            raise
        finally:
            _current.reset(token)
            # Nothing routed and nothing refused (Ollama's empty "load" call, a client gone
            # before its body arrived): not a request to count.
            if trace.route is not None or (status is not None and status >= 400):
                finished = trace.finish(status)
                for observer in observers:
                    observer.finished(finished)

    return middleware

"""The HTTP edge of a draining peer (`harombe.drain`): new work refused, work in flight counted.

Work is every request but the reads (GET, HEAD, OPTIONS: status, metrics, models, the peer
websocket), so a dashboard's event stream or a peer link never holds a drain up. While draining:

- new work gets 503 with `Retry-After` in the endpoint's dialect (Ollama, OpenAI, harombe's
  own for the cluster and agent APIs);
- a forwarded request (`POST /cluster/forward`) gets a *retryable* in-band error frame, so the
  coordinator that sent it tries another node at once and its client sees no error;
- `/health` answers 503 `{"status": "draining"}`, so load balancers and `harombe` stop sending.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from harombe import __version__
from harombe.api.edge import dialect_error
from harombe.api.errors import ApiError
from harombe.drain import Drain
from harombe.inference import peer_wire

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_AFTER_S = 1.0
"""`Retry-After` of a refusal: the client should retry soon, at another peer (or this one
restarted)."""
MESSAGE = "this peer is shutting down (draining); retry at another peer"


def drain_middleware(drain: Drain, node_name: str) -> Middleware:
    """Refuses new work once `drain` is draining and counts the work it lets through."""

    @web.middleware
    async def track_work(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/health" and drain.draining:
            body = {"status": "draining", "node": node_name, "version": __version__}
            return web.json_response(body, status=503)
        if request.method in READ_METHODS:
            return await handler(request)
        if drain.draining:
            return _refusal(request)
        with drain.track():
            return await handler(request)

    return track_work


def _refusal(request: web.Request) -> web.Response:
    if request.path == peer_wire.FORWARD_PATH:
        error = peer_wire.ForwardError(status=503, message=MESSAGE, retryable=True)
        return web.Response(
            body=peer_wire.error_frame(error),
            status=503,
            content_type=peer_wire.CONTENT_TYPE,
            headers={"Retry-After": str(int(RETRY_AFTER_S))},
        )
    return dialect_error(
        request.path, ApiError(503, MESSAGE, code="draining", retry_after=RETRY_AFTER_S)
    )

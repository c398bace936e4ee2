"""Checks every request passes before a handler sees it: body size and client API keys.

Refusals are rendered in the dialect of the endpoint asked: Ollama (`/api/*`: `{"error": msg}`),
OpenAI (`/v1/*`: `{"error": {"message", "type", "param", "code"}}`), and harombe's own paths
(`{"error": msg}`).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from harombe.api import ollama_api, openai_api
from harombe.api.errors import ApiError, too_large
from harombe.api.peer_auth import HOP_HEADER

OPEN_PATHS = frozenset({"/health"})
"""Paths answered without an API key (liveness checks from load balancers and `harombe`)."""


def dialect_error(path: str, exc: ApiError) -> web.Response:
    """`exc` as the endpoint at `path` reports errors."""
    if path.startswith("/v1/"):
        return openai_api.error_response(exc)
    if path.startswith("/api/"):
        return ollama_api.error_response(exc)
    return web.json_response({"error": exc.message}, status=exc.status, headers=exc.headers())


def body_limit_middleware(max_body_bytes: int) -> Middleware:
    """413 before any of the body is read when its declared length is over the limit (a
    chunked body is cut off at the limit by `read_request`)."""

    @web.middleware
    async def limit_body(request: web.Request, handler: Handler) -> web.StreamResponse:
        length = request.content_length
        if length is not None and length > max_body_bytes:
            response = dialect_error(request.path, too_large(max_body_bytes))
            response.force_close()  # the unread body must not be parsed as the next request
            return response
        return await handler(request)

    return limit_body


def api_key_middleware(keys: Sequence[str], peer_paths: Iterable[str] = ()) -> Middleware:
    """401 in the endpoint's dialect unless `Authorization: Bearer <one of keys>`.

    Open: `/health`, `peer_paths` (the peer websocket) and forwarded requests (the hop header),
    which the cluster key guards instead (the config requires one alongside API keys).
    """
    expected = [key.encode() for key in keys]
    exempt = OPEN_PATHS | frozenset(peer_paths)

    @web.middleware
    async def require_key(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in exempt or HOP_HEADER in request.headers:
            return await handler(request)
        if not _authorized(request.headers.get("Authorization", ""), expected):
            error = ApiError(
                401,
                "missing or invalid API key: send `Authorization: Bearer <key>`",
                code="invalid_api_key",
            )
            response = dialect_error(request.path, error)
            response.headers["WWW-Authenticate"] = 'Bearer realm="harombe"'
            return response
        return await handler(request)

    return require_key


def _authorized(header: str, expected: list[bytes]) -> bool:
    scheme, _, token = header.partition(" ")
    presented = token.strip().encode()
    # Compare against every key, so the time taken says nothing about which one nearly matched.
    matches = [hmac.compare_digest(presented, key) for key in expected]
    return scheme.lower() == "bearer" and any(matches)

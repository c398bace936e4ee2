"""`POST /cluster/forward`: serve a request another peer forwarded, in harombe's typed format.

The body is a msgpack `ChatRequest`, the answer a stream of length-prefixed msgpack frames
(`harombe.inference.peer_wire`): the chunks exactly as the local backend produced them, or a
typed error frame. The request is served by this node's own backend, never routed again. Only
hop requests (signed, when the cluster has a key: `peer_auth`) are served here; clients use
the Ollama and OpenAI APIs.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import aclosing

from aiohttp import web

from harombe.api.body import read_body
from harombe.api.coalesce import StreamResponse, write_coalesced
from harombe.api.errors import ApiError
from harombe.api.keys import COORDINATOR_KEY
from harombe.inference import peer_wire
from harombe.inference.types import BackendError, ChatRequest
from harombe.routing.route import Coordinator, RouteOptions

log = logging.getLogger(__name__)

LOCAL_ONLY = RouteOptions(local_only=True)


def _refusal(status: int, message: str) -> web.Response:
    error = peer_wire.ForwardError(status=status, message=message, retryable=False)
    return web.Response(
        body=peer_wire.error_frame(error), status=status, content_type=peer_wire.CONTENT_TYPE
    )


async def handle_forward(request: web.Request) -> web.StreamResponse:
    if peer_wire.HOP_HEADER not in request.headers:
        return _refusal(400, f"only peers forward here (no {peer_wire.HOP_HEADER} header)")
    problem = peer_wire.version_problem(request.headers.get(peer_wire.VERSION_HEADER))
    if problem is not None:
        return _refusal(400, problem)
    try:
        chat = peer_wire.decode_request(await read_body(request))
    except ApiError as exc:
        return _refusal(exc.status, exc.message)
    except peer_wire.WireError as exc:
        return _refusal(400, str(exc))
    response = StreamResponse(headers={"Content-Type": peer_wire.CONTENT_TYPE})
    await response.prepare(request)
    try:
        async with aclosing(_frames(request.app[COORDINATOR_KEY], chat)) as frames:
            await write_coalesced(response, frames)
    except ConnectionResetError:
        log.debug("the forwarding peer went away mid-answer")
    return response


async def _frames(coordinator: Coordinator, chat: ChatRequest) -> AsyncIterator[bytes]:
    """The local answer's chunks as frames; a failure becomes the last, an error frame."""
    try:
        stream = coordinator.open(chat, LOCAL_ONLY)
        async with aclosing(aiter(stream)) as chunks:  # type: ignore[type-var]
            async for chunk in chunks:
                yield peer_wire.chunk_frame(chunk)
    except BackendError as exc:
        yield peer_wire.error_frame(peer_wire.ForwardError.of(exc))
    except Exception as exc:
        log.error("serving a forwarded request failed", exc_info=exc)
        error = peer_wire.ForwardError(500, f"internal error: {type(exc).__name__}", True)
        yield peer_wire.error_frame(error)


def add_forward_route(app: web.Application) -> None:
    app.router.add_post(peer_wire.FORWARD_PATH, handle_forward)

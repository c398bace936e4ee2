"""The aiohttp application every peer serves: Ollama API, OpenAI API and `/health`.

Other modules add their routes (cluster API, peer websocket, metrics) through `setup` hooks or
on the returned app before it starts; the handlers find the coordinator under `COORDINATOR_KEY`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from aiohttp import web
from aiohttp.typedefs import Middleware

from harombe import __version__
from harombe.api.answer import NODE_HEADER
from harombe.api.dialects import unknown_routes_in_dialect
from harombe.api.edge import body_limit_middleware
from harombe.api.keys import COORDINATOR_KEY, LIMITS_KEY, NODE_NAME_KEY
from harombe.api.ollama_api import add_ollama_routes
from harombe.api.openai_api import add_openai_routes
from harombe.limits import LimitsConfig
from harombe.routing.route import Coordinator

Setup = Callable[[web.Application], None]


async def handle_health(request: web.Request) -> web.Response:
    return web.json_response(
        {"status": "ok", "node": request.app[NODE_NAME_KEY], "version": __version__}
    )


async def _name_node(request: web.Request, response: web.StreamResponse) -> None:
    """Every response names a node: the serving one for answers, else the one that replied."""
    response.headers.setdefault(NODE_HEADER, request.app[NODE_NAME_KEY])


def make_app(
    *,
    node_name: str,
    coordinator: Coordinator,
    limits: LimitsConfig | None = None,
    middlewares: Iterable[Middleware] = (),
    setup: Iterable[Setup] = (),
) -> web.Application:
    """`middlewares` run outside the body-size check (connection tracking, API keys); unknown
    routes are answered in their dialect innermost, after both."""
    limits = limits or LimitsConfig()
    app = web.Application(
        client_max_size=limits.max_body_bytes,
        middlewares=[
            *middlewares,
            body_limit_middleware(limits.max_body_bytes),
            unknown_routes_in_dialect,
        ],
    )
    app[LIMITS_KEY] = limits
    app[NODE_NAME_KEY] = node_name
    app[COORDINATOR_KEY] = coordinator
    app.on_response_prepare.append(_name_node)
    app.router.add_get("/health", handle_health)
    add_ollama_routes(app)
    add_openai_routes(app)
    for hook in setup:
        hook(app)
    return app

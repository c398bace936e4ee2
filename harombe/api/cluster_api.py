"""The cluster API: `POST /cluster/execute` (one query, whole answer, routing details),
`POST /cluster/forward` (peers only: `forward_api`),
`POST /cluster/route` (the same body; where it would go and why, nothing sent: `harombe route`)
and `GET /cluster/status` (this peer's view of the cluster), in the seed's shapes.

`/cluster/execute` goes through the same coordinator as `/api/chat`: classification, policy,
balancing, failover. Errors are `{"error": ..., "field": ...}` with the HTTP status (400 names
the offending field; 503 carries Retry-After).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from aiohttp import web
from pydantic import ConfigDict, Field

from harombe.api.answer import collect, open_answer, route_headers, route_options
from harombe.api.errors import ApiError, guarded
from harombe.api.forward_api import add_forward_route
from harombe.api.models import WireModel, read_request
from harombe.inference.types import ChatRequest, Message
from harombe.routing.dispatch import Dispatcher
from harombe.routing.route import RouteOptions

StatusProvider = Callable[[], list[dict[str, Any]]]


class ContextMessage(WireModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    role: Literal["system", "user", "assistant"]
    content: str


class ExecuteRequest(WireModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    query: str = Field(min_length=1, description="The question; becomes the last user turn.")
    context: list[ContextMessage | str] = Field(
        default_factory=list,
        description="Earlier turns, oldest first: messages, or strings taken as user turns.",
    )
    prefer_tier: int | None = Field(default=None, ge=0, le=2)
    timeout: float | None = Field(default=None, gt=0, description="Seconds for the whole answer.")
    model: str | None = Field(default=None, min_length=1)

    def chat_request(self) -> ChatRequest:
        history = [
            Message("user", item) if isinstance(item, str) else Message(item.role, item.content)
            for item in self.context
        ]
        return ChatRequest(messages=[*history, Message("user", self.query)], model=self.model)


def _options(request: web.Request, body: ExecuteRequest) -> RouteOptions:
    """The headers' options (hop, X-Harombe-Tier), with the body's tier and timeout on top."""
    options = route_options(request)
    if body.prefer_tier is not None:
        options.prefer_tier = body.prefer_tier
    options.timeout = body.timeout
    return options


def _error_response(exc: ApiError) -> web.Response:
    payload: dict[str, Any] = {"error": exc.message}
    if exc.param:
        payload["field"] = exc.param
    return web.json_response(payload, status=exc.status, headers=exc.headers())


def add_cluster_routes(
    app: web.Application,
    *,
    dispatcher: Dispatcher,
    status_provider: StatusProvider | None = None,
    node_name: str | None = None,
    authenticated: bool = False,
) -> None:
    """`status_provider` lists the nodes for /cluster/status (default: `dispatcher.status`);
    `node_name` defaults to `dispatcher.node_name`; `authenticated` says whether a cluster key
    guards the peers (/cluster/status reports `"auth": "cluster-key"` or `"unauthenticated"`)."""
    provider = status_provider or dispatcher.status
    name = node_name or dispatcher.node_name
    guard = guarded(_error_response)

    async def execute(request: web.Request) -> web.Response:
        body = await read_request(request, ExecuteRequest)
        options = _options(request, body)
        async with open_answer(dispatcher, body.chat_request(), options) as answer:
            whole = await collect(answer)
        return web.json_response(
            {"response": whole.content, **answer.route.as_dict()},
            headers=route_headers(answer.route),
        )

    async def route(request: web.Request) -> web.Response:
        body = await read_request(request, ExecuteRequest)
        decision = dispatcher.decide(body.chat_request(), _options(request, body))
        return web.json_response(decision.as_dict())

    async def status(request: web.Request) -> web.Response:
        auth = "cluster-key" if authenticated else "unauthenticated"
        return web.json_response({"node": name, "auth": auth, "nodes": provider()})

    app.router.add_post("/cluster/execute", guard(execute))
    app.router.add_post("/cluster/route", guard(route))
    app.router.add_get("/cluster/status", guard(status))
    add_forward_route(app)

"""The agent API: `POST /agent/chat` (NDJSON events), `POST /agent/confirm/{id}`,
`GET|DELETE /conversations[/{id}]`, and the peer endpoints that run shared tools.

A conversation (and a confirmation) id names the peer that owns it; a request for it at any
other peer is forwarded to the owner, signed, and the owner's answer streamed back unchanged.
`GET /conversations` lists the conversations this peer owns.
"""

from __future__ import annotations

import json
import logging
from contextlib import aclosing
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from harombe.agent.events import ErrorEvent
from harombe.agent.loop import TurnRequest
from harombe.agent.peers import TOOL_CALL_PATH, TOOLS_PATH
from harombe.agent.service import AgentService
from harombe.agent.store import owner_of
from harombe.api.body import read_body
from harombe.api.errors import ApiError
from harombe.api.models import read_request
from harombe.api.peer_auth import HOP_HEADER

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
AGENT_KEY: web.AppKey[AgentService] = web.AppKey("harombe_agent")
NDJSON = "application/x-ndjson"


class AgentChatBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation: str | None = None
    message: str = Field(min_length=1)
    tools: list[str] | None = None
    max_steps: int | None = Field(default=None, ge=1, le=64)
    prefer_tier: int | None = Field(default=None, ge=0, le=2)
    stream: bool = True


class ConfirmBody(BaseModel):
    allow: bool


class ToolCallBody(BaseModel):
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


def add_agent_routes(app: web.Application, service: AgentService) -> None:
    app[AGENT_KEY] = service
    app.router.add_post("/agent/chat", handle_chat)
    app.router.add_post("/agent/confirm/{id}", handle_confirm)
    app.router.add_get("/conversations", handle_list)
    app.router.add_get("/conversations/{id}", handle_get)
    app.router.add_delete("/conversations/{id}", handle_delete)
    app.router.add_get(TOOLS_PATH, handle_peer_tools)
    app.router.add_post(TOOL_CALL_PATH, handle_peer_tool_call)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _parse(request: web.Request, model: type[M]) -> M | web.Response:
    """The body as `model` (read within the limits, large ones parsed off the loop), or the
    error response."""
    try:
        return await read_request(request, model)
    except ApiError as exc:
        return _error(exc.status, exc.message)


async def handle_chat(request: web.Request) -> web.StreamResponse:
    service = request.app[AGENT_KEY]
    body = await _parse(request, AgentChatBody)
    if isinstance(body, web.Response):
        return body
    if len(body.message) > service.config.max_message_chars:
        return _error(413, f"message longer than {service.config.max_message_chars} characters")
    unknown = sorted(set(body.tools or []) - set(service.known_tools()))
    if unknown:
        return _error(400, f"unknown tools: {', '.join(unknown)}; known: "
                      f"{', '.join(service.known_tools())}")  # fmt: skip
    history = []
    if service.active_turns >= service.config.max_active_turns:
        return _error(503, f"{service.active_turns} agent turns are running here already "
                      "(agent.max_active_turns); retry shortly")  # fmt: skip
    if body.conversation is not None:
        owner = owner_of(body.conversation)
        if owner is None:
            return _error(400, f"{body.conversation!r} is not a conversation id")
        if owner != service.node_name:
            return await _forward(request, owner)
        found = await service.store.messages(body.conversation)
        if found is None:
            return _error(404, f"no conversation {body.conversation}")
        history, conversation = found, body.conversation
    elif await service.store.count() >= service.config.max_conversations:
        return _error(507, f"this peer stores {service.config.max_conversations} conversations "
                      "already (agent.max_conversations); delete some first")  # fmt: skip
    else:
        conversation = await service.store.create(body.message)
    turn = service.turn(
        TurnRequest(
            message=body.message,
            conversation=conversation,
            tools=body.tools,
            max_steps=body.max_steps,
            prefer_tier=body.prefer_tier,
            interactive=body.stream,
        ),
        conversation,
        history,
    )
    service.active_turns += 1
    try:
        return await _respond(request, turn, conversation, stream=body.stream)
    finally:
        service.active_turns -= 1


async def _respond(
    request: web.Request, turn: Any, conversation: str, *, stream: bool
) -> web.StreamResponse:
    if not stream:
        events = []
        async with aclosing(aiter(turn)) as stream:
            async for event in stream:
                events.append(event.as_dict())
        answer = next((e["content"] for e in events if e["type"] == "answer"), None)
        return web.json_response({"conversation": conversation, "answer": answer, "events": events})
    response = web.StreamResponse(headers={"Content-Type": NDJSON, "Cache-Control": "no-cache"})
    await response.prepare(request)
    try:
        async with aclosing(aiter(turn)) as stream:
            async for event in stream:
                await response.write(json.dumps(event.as_dict()).encode() + b"\n")
    except ConnectionResetError:
        log.debug("agent client went away mid-turn")
        return response
    except Exception as exc:  # the stream has started: report in-band, not as a 500
        log.exception("agent turn failed")
        error = ErrorEvent(f"internal error: {type(exc).__name__}", conversation)
        await response.write(json.dumps(error.as_dict()).encode() + b"\n")
    await response.write_eof()
    return response


async def handle_confirm(request: web.Request) -> web.StreamResponse:
    service = request.app[AGENT_KEY]
    confirm_id = request.match_info["id"]
    owner = owner_of(confirm_id)
    if owner is None:
        return _error(400, f"{confirm_id!r} is not a confirmation id")
    if owner != service.node_name:
        return await _forward(request, owner)
    body = await _parse(request, ConfirmBody)
    if isinstance(body, web.Response):
        return body
    if not service.confirmations.answer(confirm_id, body.allow):
        return _error(404, f"nothing waits for confirmation {confirm_id} (answered or timed out)")
    return web.json_response({"id": confirm_id, "allow": body.allow})


async def handle_list(request: web.Request) -> web.Response:
    service = request.app[AGENT_KEY]
    return web.json_response(
        {"node": service.node_name, "conversations": await service.store.list()}
    )


async def handle_get(request: web.Request) -> web.StreamResponse:
    service = request.app[AGENT_KEY]
    conversation = request.match_info["id"]
    owner = owner_of(conversation)
    if owner is not None and owner != service.node_name:
        return await _forward(request, owner)
    found = await service.store.get(conversation) if owner else None
    if found is None:
        return _error(404, f"no conversation {conversation}")
    return web.json_response(found)


async def handle_delete(request: web.Request) -> web.StreamResponse:
    service = request.app[AGENT_KEY]
    conversation = request.match_info["id"]
    owner = owner_of(conversation)
    if owner is not None and owner != service.node_name:
        return await _forward(request, owner)
    if not owner or not await service.store.delete(conversation):
        return _error(404, f"no conversation {conversation}")
    return web.json_response({"deleted": conversation})


async def _forward(request: web.Request, owner: str) -> web.StreamResponse:
    """Pass the request to the peer `owner` and stream its answer back."""
    service = request.app[AGENT_KEY]
    if HOP_HEADER in request.headers:
        return _error(404, f"this peer is not {owner}, which owns that id")  # never re-forward
    address = service.peers.address_of(owner) if service.peers else None
    if address is None or service.link is None:
        return _error(503, f"peer {owner}, which owns that id, is not reachable now")
    link = service.link
    try:
        body = await read_body(request)
    except ApiError as exc:
        return _error(exc.status, exc.message)
    path = request.path_qs
    try:
        async with link.session.request(
            request.method,
            link.url(address, path),
            data=body,
            headers=link.headers(request.method, path, body, address),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=link.timeout),
        ) as upstream:
            response = web.StreamResponse(
                status=upstream.status,
                headers={"Content-Type": upstream.headers.get("Content-Type", "application/json")},
            )
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response
    except aiohttp.ClientError as exc:
        log.warning("forwarding to %s failed: %s", owner, exc)
        if "response" in locals() and response.prepared:
            return response
        return _error(502, f"peer {owner} did not answer: {exc}")


def _peer_only(request: web.Request) -> web.Response | None:
    if HOP_HEADER not in request.headers:
        return _error(403, "only peers may call this (signed, with the hop header)")
    return None


async def handle_peer_tools(request: web.Request) -> web.Response:
    if (refused := _peer_only(request)) is not None:
        return refused
    return web.json_response({"tools": request.app[AGENT_KEY].shared_schemas()})


async def handle_peer_tool_call(request: web.Request) -> web.Response:
    if (refused := _peer_only(request)) is not None:
        return refused
    body = await _parse(request, ToolCallBody)
    if isinstance(body, web.Response):
        return body
    ok, output = await request.app[AGENT_KEY].run_shared(body.name, body.arguments)
    return web.json_response({"ok": ok, "output": output})

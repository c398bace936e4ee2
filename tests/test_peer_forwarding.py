"""Forwarding between peers in harombe's typed format (`POST /cluster/forward`): lossless.

A request through entry peer `e` (no backend) is forwarded to `b`; asked of `b` directly it is
served locally. Both answers must be the same field for field, in both client dialects, streamed
and not, tool calls with their ids included; at the type level the forwarded chunks must equal
the backend's own.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec
import ollama
import openai
import pytest
from aiohttp import web
from support.routing_peers import RoutingCluster

from harombe.inference import peer_wire
from harombe.inference.http1 import HttpClient
from harombe.inference.peer import PeerBackend
from harombe.inference.types import (
    BackendError,
    ChatChunk,
    ChatRequest,
    GenerationOptions,
    Message,
    ToolCall,
)
from harombe.routing.config import RoutingConfig
from sim.fake_openai import Reply

TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
QUESTION = {"role": "user", "content": "What is the weather in Paris?"}
VOLATILE = {"created", "created_at", "total_duration", "prompt_eval_duration",
            "eval_duration", "load_duration", "harombe"}  # fmt: skip


@pytest.fixture
async def pair() -> AsyncIterator[RoutingCluster]:
    cluster = RoutingCluster(RoutingConfig(first_token_timeout=5.0))
    await cluster.add("e", 1, fake=False)
    await cluster.add("b", 1)
    async with cluster:
        yield cluster


def script_both(cluster: RoutingCluster, tools: bool) -> None:
    """The same two replies, one for the forwarded request and one for the direct one."""
    reply = Reply(
        ["It is", " sunny"], tool_call=("get_weather", {"city": "Paris"}) if tools else None
    )
    cluster["b"].fake.script.extend([reply, reply])


def stable(value: Any) -> Any:
    """`value` without the fields that differ between any two answers (ids, clocks, route)."""
    if isinstance(value, dict):
        return {
            k: stable(v)
            for k, v in value.items()
            if k not in VOLATILE and not str(v).startswith("chatcmpl-")
        }
    if isinstance(value, list):
        return [stable(v) for v in value]
    return value


async def both(cluster: RoutingCluster, ask) -> tuple[Any, Any]:  # type: ignore[no-untyped-def]
    forwarded = await ask(cluster["e"].url)
    direct = await ask(cluster["b"].url)
    return stable(forwarded), stable(direct)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("tools", [False, True])
async def test_openai_answers_are_the_same_forwarded_or_direct(pair, stream, tools):
    script_both(pair, tools)

    async def ask(url: str) -> Any:
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="unused")
        extra: dict[str, Any] = {"tools": [TOOL]} if tools else {}
        if not stream:
            answer = await client.chat.completions.create(
                model="fake-model", messages=[QUESTION], **extra
            )
            return answer.model_dump()
        chunks = await client.chat.completions.create(
            model="fake-model",
            messages=[QUESTION],
            stream=True,
            stream_options={"include_usage": True},
            **extra,
        )
        return [c.model_dump() async for c in chunks]

    forwarded, direct = await both(pair, ask)
    assert forwarded == direct
    text = str(forwarded)
    assert "sunny" in text and ("call_1" in text) == tools
    assert len(pair["b"].fake.requests) == 2


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("tools", [False, True])
async def test_ollama_answers_are_the_same_forwarded_or_direct(pair, stream, tools):
    script_both(pair, tools)

    async def ask(url: str) -> Any:
        client = ollama.AsyncClient(host=url)
        extra: dict[str, Any] = {"tools": [TOOL]} if tools else {}
        if not stream:
            answer = await client.chat(model="fake-model", messages=[QUESTION], **extra)
            return answer.model_dump()
        parts = await client.chat(model="fake-model", messages=[QUESTION], stream=True, **extra)
        return [p.model_dump() async for p in parts]

    forwarded, direct = await both(pair, ask)
    assert forwarded == direct
    assert "sunny" in str(forwarded) and ("get_weather" in str(forwarded)) == tools


async def test_forwarded_chunks_equal_the_backends_own(pair):
    """Type level: every field of every chunk, usage and tool-call ids included."""
    script_both(pair, tools=True)
    request = ChatRequest(
        messages=[
            Message("user", "Weather?"),
            Message("assistant", tool_calls=[ToolCall("get_weather", {"city": "Oslo"}, id="c9")]),
            Message("tool", "3 C", tool_call_id="c9", name="get_weather"),
        ],
        model="fake-model",
        tools=[TOOL],
        options=GenerationOptions(temperature=0.25, top_k=7, max_tokens=64, stop=["\n\n"]),
    )
    peer = PeerBackend(
        pair["b"].address, session=pair.session, http=pair.http, origin="test", destination="b"
    )
    forwarded = [c async for c in peer.chat(request)]
    direct = [c async for c in pair["b"].backend.chat(request)]
    assert forwarded == direct
    assert forwarded[-1].done and forwarded[-1].tool_calls[0].id == "call_1"
    first, second = pair["b"].fake.requests
    assert first == second  # the backend got the same request either way


async def forward_raw(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, list[Any]]:
    """POST /cluster/forward; (status, the decoded frames)."""
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}{peer_wire.FORWARD_PATH}", data=body, headers=headers) as resp:
            raw = await resp.read()
    frames = []
    while raw:
        (length,) = struct.unpack(">I", raw[:4])
        frames.append(peer_wire.decode_frame(raw[4 : 4 + length]))
        raw = raw[4 + length :]
    return resp.status, frames


HOP = {peer_wire.HOP_HEADER: "test", peer_wire.VERSION_HEADER: str(peer_wire.PROTOCOL_VERSION)}


async def test_a_request_of_an_unknown_version_gets_a_typed_error(pair):
    body = peer_wire.encode_request(ChatRequest([Message("user", "hi")]))
    too_new = {**HOP, peer_wire.VERSION_HEADER: str(peer_wire.PROTOCOL_VERSION + 1)}
    status, [frame] = await forward_raw(pair["b"].url, body, too_new)
    assert status == 400 and "version" in frame.error.message and not frame.error.retryable
    assert pair.served()["b"] == 0


async def test_fields_a_newer_peer_adds_are_ignored_and_missing_ones_defaulted(pair):
    """Compatibility within a version: an unknown field is skipped, an absent one defaulted."""
    newer = {
        "messages": [{"role": "user", "content": "hi", "attachments": ["x"]}],
        "model": "fake-model",
        "a_field_from_the_future": {"nested": [1, 2]},
    }
    status, frames = await forward_raw(pair["b"].url, msgspec.msgpack.encode(newer), HOP)
    assert status == 200 and all(f.chunk for f in frames) and frames[-1].chunk.done
    assert pair["b"].fake.last_messages() == [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("body", "headers", "why"),
    [
        (b"\xc1garbage", HOP, "not a forwarded chat request"),
        (msgspec.msgpack.encode({"messages": [{"role": 5}]}), HOP, "not a forwarded chat"),
        (b"", {peer_wire.VERSION_HEADER: "1"}, "only peers forward here"),
    ],
)
async def test_malformed_forwarded_requests_are_refused_with_a_typed_error(
    pair, body, headers, why
):
    status, [frame] = await forward_raw(pair["b"].url, body, headers)
    assert status == 400 and why in frame.error.message
    assert pair.served()["b"] == 0


async def test_a_backend_failure_comes_back_as_an_error_frame(pair):
    pair["b"].fake.script.append(Reply(status=500))
    body = peer_wire.encode_request(ChatRequest([Message("user", "hi")]))
    status, frames = await forward_raw(pair["b"].url, body, HOP)
    assert status == 200 and frames[-1].error.status == 500 and frames[-1].error.retryable
    assert isinstance(frames, list) and not any(isinstance(f, ChatChunk) for f in frames)


async def test_an_answer_frame_over_the_limit_ends_the_answer_before_it_is_read(aiohttp_server):
    """A peer declaring a 2 GiB frame gets nothing buffered: the answer fails as that peer's
    fault (another node can be tried) as soon as the 4-byte length arrives."""
    sent_header = False

    async def huge_frame(request: web.Request) -> web.StreamResponse:
        nonlocal sent_header
        response = web.StreamResponse(headers={"Content-Type": peer_wire.CONTENT_TYPE})
        await response.prepare(request)
        await response.write(struct.pack(">I", 2**31))
        sent_header = True
        await asyncio.Event().wait()  # the promised bytes never come
        return response

    app = web.Application()
    app.router.add_post(peer_wire.FORWARD_PATH, huge_frame)
    server = await aiohttp_server(app, host="127.0.0.1")
    http = HttpClient(connect_timeout=5.0)
    async with aiohttp.ClientSession() as session:
        peer = PeerBackend(
            f"127.0.0.1:{server.port}",
            session=session,
            http=http,
            origin="a",
            max_frame_bytes=1024,
        )
        with pytest.raises(BackendError, match="exceeds 1024B") as failed:
            async with asyncio.timeout(10):
                async for _ in peer.chat(ChatRequest([Message("user", "hi")])):
                    pass
    await http.aclose()
    assert sent_header and failed.value.retryable

"""The Ollama API of a real harombe app, driven by the official `ollama` client (and raw HTTP
where the wire itself is the point: headers, NDJSON lines, malformed bodies)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime

import aiohttp
import ollama
import pytest
from support.api_harness import (
    MODEL,
    NODE,
    REPLY,
    TIER,
    TOOL_ARGS,
    WEATHER_TOOL,
    RecordingCoordinator,
    ScriptedBackend,
)

import harombe
from harombe.routing.route import VIRTUAL_MODELS

pytest_plugins = ["support.api_fixtures"]

ANSWER = "".join(REPLY)
USER = [{"role": "user", "content": "hi there"}]


@pytest.fixture
async def client(api_url: str) -> AsyncIterator[ollama.AsyncClient]:
    c = ollama.AsyncClient(host=api_url)
    yield c
    await c.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def ndjson(resp: aiohttp.ClientResponse) -> list[dict]:
    return [json.loads(line) for line in (await resp.text()).splitlines() if line.strip()]


# --- models ---------------------------------------------------------------------------------


async def test_list_has_virtual_and_real_models(
    client: ollama.AsyncClient, api_url: str, http
) -> None:
    listed = await client.list()
    names = [m.model for m in listed.models]
    assert names == [*VIRTUAL_MODELS, MODEL]
    real = listed.models[-1]
    assert real.size == 1_234_567
    assert real.details.family == "llama"
    assert real.details.quantization_level == "Q4_K_M"
    assert real.modified_at is not None

    async with http.get(f"{api_url}/api/tags") as resp:
        raw = (await resp.json())["models"]
    assert raw[-1]["name"] == MODEL
    assert raw[-1]["harombe"] == {"nodes": [NODE], "loaded_on": [NODE], "virtual": False}
    assert raw[0]["harombe"] == {"nodes": [NODE], "loaded_on": [], "virtual": True}


async def test_ps_lists_loaded_models(client: ollama.AsyncClient) -> None:
    running = await client.ps()
    assert [m.model for m in running.models] == [MODEL]
    assert running.models[0].details.parameter_size == "1B"


async def test_show_real_and_virtual(client: ollama.AsyncClient, api_url: str, http) -> None:
    shown = await client.show(MODEL)
    assert shown.details.family == "llama"
    assert "completion" in shown.capabilities
    assert MODEL in shown.modelfile
    assert shown.modelinfo is not None
    assert (await client.show("auto")).details.family == "harombe"

    async with http.post(f"{api_url}/api/show", json={"name": MODEL}) as resp:
        assert resp.status == 200
        assert (await resp.json())["harombe"]["nodes"] == [NODE]

    with pytest.raises(ollama.ResponseError) as err:
        await client.show("nope:7b")
    assert err.value.status_code == 404
    assert "nope:7b" in err.value.error


async def test_version_and_health(api_url: str, http) -> None:
    async with http.get(f"{api_url}/api/version") as resp:
        assert await resp.json() == {"version": harombe.__version__}
        assert resp.headers["X-Harombe-Node"] == NODE
    async with http.get(f"{api_url}/health") as resp:
        assert await resp.json() == {"status": "ok", "node": NODE, "version": harombe.__version__}


# --- chat -----------------------------------------------------------------------------------


async def test_chat_whole(client: ollama.AsyncClient, api_backend: ScriptedBackend) -> None:
    reply = await client.chat(model=MODEL, messages=USER, stream=False)
    assert reply.message.role == "assistant"
    assert reply.message.content == ANSWER
    assert reply.done is True
    assert reply.done_reason == "stop"
    assert reply.eval_count == len(REPLY)
    assert reply.prompt_eval_count == 1
    assert reply.total_duration is not None and reply.total_duration > 0
    assert reply.created_at.endswith("Z")
    datetime.fromisoformat(reply.created_at)
    assert api_backend.requests[-1].stream is False


async def test_chat_stream(client: ollama.AsyncClient) -> None:
    parts = [part async for part in await client.chat(model=MODEL, messages=USER, stream=True)]
    assert "".join(p.message.content or "" for p in parts) == ANSWER
    assert [p.done for p in parts] == [False] * len(REPLY) + [True]
    assert parts[-1].done_reason == "stop"
    assert parts[-1].eval_count == len(REPLY)


async def test_chat_stream_wire(api_url: str, http, api_coordinator: RecordingCoordinator) -> None:
    """Headers name the serving node; every line is JSON; the done line carries the route."""
    body = {"model": "auto", "messages": USER}  # no "stream": Ollama streams by default
    async with http.post(f"{api_url}/api/chat", json=body, headers={"X-Harombe-Tier": "2"}) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("application/x-ndjson")
        assert resp.headers["X-Harombe-Node"] == NODE
        assert resp.headers["X-Harombe-Tier"] == str(TIER)
        lines = await ndjson(resp)
    assert all(line["created_at"].endswith("Z") for line in lines)
    assert all("harombe" not in line for line in lines[:-1])
    done = lines[-1]
    assert done["done"] is True
    assert done["model"] == MODEL
    assert done["harombe"]["node"] == NODE
    assert done["harombe"]["tier"] == TIER
    for key in (
        "total_duration",
        "load_duration",
        "prompt_eval_count",
        "prompt_eval_duration",
        "eval_count",
        "eval_duration",
    ):
        assert isinstance(done[key], int), key
    assert api_coordinator.options[-1].prefer_tier == 2
    assert api_coordinator.options[-1].local_only is False


async def test_hop_header_means_local_only(api_url: str, http, api_coordinator) -> None:
    body = {"model": MODEL, "messages": USER, "stream": False}
    async with http.post(
        f"{api_url}/api/chat", json=body, headers={"X-Harombe-Hop": "node-b"}
    ) as r:
        assert r.status == 200
    assert api_coordinator.options[-1].local_only is True


async def test_options_reach_the_backend(client: ollama.AsyncClient, api_backend) -> None:
    options = {
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 30,
        "num_predict": 16,
        "seed": 7,
        "stop": ["\n\n"],
        "num_ctx": 4096,
    }
    await client.chat(model="auto:latest", messages=USER, options=options)
    sent = api_backend.requests[-1]
    assert sent.model is None  # a virtual model: the coordinator picks
    assert (sent.options.temperature, sent.options.top_p, sent.options.top_k) == (0.2, 0.9, 30)
    assert (sent.options.max_tokens, sent.options.seed, sent.options.stop) == (16, 7, ["\n\n"])


async def test_chat_with_tools(client: ollama.AsyncClient, api_backend: ScriptedBackend) -> None:
    for stream in (False, True):
        if stream:
            parts = [
                p
                async for p in await client.chat(
                    model=MODEL, messages=USER, tools=[WEATHER_TOOL], stream=True
                )
            ]
            calls = [c for p in parts for c in p.message.tool_calls or []]
            final = parts[-1]
        else:
            final = await client.chat(model=MODEL, messages=USER, tools=[WEATHER_TOOL])
            calls = list(final.message.tool_calls or [])
        assert [(c.function.name, dict(c.function.arguments)) for c in calls] == [
            ("get_weather", TOOL_ARGS)
        ]
        assert final.done_reason == "stop"
        sent = api_backend.requests[-1].tools
        assert sent is not None and sent[0]["function"]["name"] == "get_weather"
        assert sent[0]["function"]["parameters"]["required"] == ["city"]
        assert sent[0]["function"]["parameters"]["properties"]["city"]["type"] == "string"


async def test_tool_results_in_history(client: ollama.AsyncClient, api_backend) -> None:
    history = [
        *USER,
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": TOOL_ARGS}}],
        },
        {"role": "tool", "content": "21 C", "tool_name": "get_weather"},
    ]
    await client.chat(model=MODEL, messages=history)
    assistant, tool = api_backend.requests[-1].messages[1:]
    assert assistant.tool_calls[0].name == "get_weather"
    assert assistant.tool_calls[0].arguments == TOOL_ARGS
    assert (tool.role, tool.content, tool.name) == ("tool", "21 C", "get_weather")


async def test_empty_chat_is_a_load_call(client: ollama.AsyncClient, api_backend) -> None:
    reply = await client.chat(model=MODEL, messages=[])
    assert (reply.done, reply.done_reason) == (True, "load")
    assert api_backend.requests == []


# --- generate -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field"), [("/api/chat", "message"), ("/api/generate", "response")]
)
async def test_streamed_text_lines_are_whole_objects(api_url: str, http, path, field) -> None:
    """Text lines (rendered from a template) carry exactly the fields Ollama sends."""
    body = {"model": MODEL, "messages": USER, "prompt": "hi", "stream": True}
    async with http.post(f"{api_url}{path}", json=body) as resp:
        lines = await ndjson(resp)
    texts = lines[:-1]
    assert len(texts) == len(REPLY)
    for line, piece in zip(texts, REPLY, strict=True):
        datetime.fromisoformat(line["created_at"].replace("Z", "+00:00"))
        text = {"role": "assistant", "content": piece} if field == "message" else piece
        assert line == {"model": MODEL, "created_at": line["created_at"], field: text,
                        "done": False}  # fmt: skip


async def test_generate_whole_and_stream(client: ollama.AsyncClient, api_backend) -> None:
    whole = await client.generate(model=MODEL, prompt="hi", system="be brief")
    assert whole.response == ANSWER
    assert whole.done_reason == "stop"
    sent = api_backend.requests[-1].messages
    assert [(m.role, m.content) for m in sent] == [("system", "be brief"), ("user", "hi")]

    parts = [p async for p in await client.generate(model=MODEL, prompt="hi", stream=True)]
    assert "".join(p.response for p in parts) == ANSWER
    assert parts[-1].done is True


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "reason"),
    [
        ("/api/chat", b"{not json", "malformed JSON"),
        ("/api/chat", b'{"model": "m"}', "messages"),
        ("/api/chat", b'{"model": "m", "messages": "hi"}', "messages"),
        ("/api/chat", b'{"model": "m", "messages": [{"role": "bot", "content": "x"}]}', "role"),
        ("/api/chat", b'{"model": "m", "messages": [], "stream": "yes"}', "stream"),
        (
            "/api/chat",
            b'{"model": "m", "messages": [], "options": {"temperature": "hot"}}',
            "options.temperature",
        ),
        ("/api/generate", b'{"prompt": "hi"}', "model"),
        ("/api/generate", b"[1, 2]", "body"),
        ("/api/show", b"{}", "model"),
    ],
)
async def test_bad_requests(
    api_url: str, http, api_backend, path: str, body: bytes, reason: str
) -> None:
    async with http.post(f"{api_url}{path}", data=body) as resp:
        assert resp.status == 400
        error = (await resp.json())["error"]
    assert reason in error
    assert api_backend.requests == []


async def test_invalid_tier_header(api_url: str, http) -> None:
    body = {"model": MODEL, "messages": USER}
    async with http.post(f"{api_url}/api/chat", json=body, headers={"X-Harombe-Tier": "5"}) as resp:
        assert resp.status == 400
        assert "X-Harombe-Tier" in (await resp.json())["error"]


async def test_body_too_large(api_url: str, http) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "x" * 100_000}]}
    async with http.post(f"{api_url}/api/chat", json=body) as resp:
        assert resp.status == 413
        assert "too large" in (await resp.json())["error"]


async def test_unknown_model(client: ollama.AsyncClient) -> None:
    for stream in (False, True):
        with pytest.raises(ollama.ResponseError) as err:
            reply = await client.chat(model="nope:7b", messages=USER, stream=stream)
            if stream:
                [p async for p in reply]
        assert err.value.status_code == 404
        assert "nope:7b" in err.value.error


async def test_unavailable_carries_retry_after(api_url: str, http) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "busy"}]}
    async with http.post(f"{api_url}/api/chat", json=body) as resp:
        assert resp.status == 503
        assert resp.headers["Retry-After"] == "7"
        assert "busy" in (await resp.json())["error"]


async def test_failure_mid_stream(client: ollama.AsyncClient, api_url: str, http) -> None:
    broken = [{"role": "user", "content": "break"}]
    async with http.post(f"{api_url}/api/chat", json={"model": MODEL, "messages": broken}) as resp:
        assert resp.status == 200
        lines = await ndjson(resp)
    assert lines[0]["message"]["content"] == "partial"
    assert list(lines[-1]) == ["error"] and "backend died mid-answer" in lines[-1]["error"]

    received = []
    with pytest.raises(ollama.ResponseError, match="died mid-answer"):
        async for part in await client.chat(model=MODEL, messages=broken, stream=True):
            received.append(part.message.content)
    assert received == ["partial"]

    with pytest.raises(ollama.ResponseError) as err:
        await client.chat(model=MODEL, messages=broken, stream=False)
    assert err.value.status_code == 502

    assert (await client.chat(model=MODEL, messages=USER)).message.content == ANSWER


async def test_client_gone_mid_stream(api_url: str, http, api_backend, client) -> None:
    """A client hanging up closes the backend's stream; the peer keeps serving."""
    body = {"model": MODEL, "messages": [{"role": "user", "content": "endless"}]}
    resp = await http.post(f"{api_url}/api/chat", json=body)
    assert json.loads(await resp.content.readline())["message"]["content"] == "tick "
    resp.close()
    async with asyncio.timeout(10):
        await api_backend.closed.wait()
    assert (await client.chat(model=MODEL, messages=USER)).message.content == ANSWER


async def test_unknown_fields_are_accepted(api_url: str, http) -> None:
    body = {
        "model": MODEL,
        "messages": USER,
        "stream": False,
        "keep_alive": "5m",
        "format": "json",
        "think": False,
        "options": {"num_ctx": 4096, "mirostat": 0, "repeat_penalty": 1.1},
    }
    async with http.post(f"{api_url}/api/chat", json=body) as resp:
        assert resp.status == 200
        assert (await resp.json())["message"]["content"] == ANSWER

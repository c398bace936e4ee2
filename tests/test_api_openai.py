"""The OpenAI API of a real harombe app, driven by the official `openai` client (and raw HTTP
where the wire itself is the point: headers, SSE events, malformed bodies)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import openai
import pytest
from support.api_harness import MODEL, NODE, REPLY, TIER, TOOL_ARGS, WEATHER_TOOL, ScriptedBackend

from harombe.routing.route import VIRTUAL_MODELS

pytest_plugins = ["support.api_fixtures"]

ANSWER = "".join(REPLY)
USER = [{"role": "user", "content": "hi there"}]


@pytest.fixture
async def client(api_url: str) -> AsyncIterator[openai.AsyncOpenAI]:
    c = openai.AsyncOpenAI(base_url=f"{api_url}/v1", api_key="x", max_retries=0)
    yield c
    await c.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def sse_payloads(text: str) -> list[str]:
    return [line.removeprefix("data: ") for line in text.split("\n\n") if line.strip()]


async def test_models(client: openai.AsyncOpenAI) -> None:
    models = [m async for m in client.models.list()]
    assert [m.id for m in models] == [*VIRTUAL_MODELS, MODEL]
    assert {m.object for m in models} == {"model"}
    assert {m.owned_by for m in models} == {"harombe"}
    assert models[-1].harombe == {"nodes": [NODE], "loaded_on": [NODE], "virtual": False}
    assert models[0].harombe["virtual"] is True


async def test_completion_whole(client: openai.AsyncOpenAI, api_backend: ScriptedBackend) -> None:
    done = await client.chat.completions.create(
        model=MODEL,
        messages=USER,
        temperature=0.3,
        top_p=0.8,
        max_completion_tokens=12,
        seed=5,
        stop="END",
    )
    assert done.id.startswith("chatcmpl-")
    assert done.object == "chat.completion"
    assert done.model == MODEL
    choice = done.choices[0]
    assert (choice.index, choice.finish_reason) == (0, "stop")
    assert (choice.message.role, choice.message.content) == ("assistant", ANSWER)
    assert done.usage.completion_tokens == len(REPLY)
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens
    assert done.harombe["node"] == NODE
    sent = api_backend.requests[-1]
    assert (sent.stream, sent.options.temperature, sent.options.top_p) == (False, 0.3, 0.8)
    assert (sent.options.max_tokens, sent.options.seed, sent.options.stop) == (12, 5, ["END"])


async def test_completion_stream(client: openai.AsyncOpenAI) -> None:
    chunks = [
        c
        async for c in await client.chat.completions.create(
            model="auto", messages=USER, stream=True, max_tokens=20
        )
    ]
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == ANSWER
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].harombe["node"] == NODE
    assert all(c.usage is None for c in chunks)


async def test_stream_with_usage(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model=MODEL, messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = [c async for c in stream]
    last = chunks[-1]
    assert last.choices == []
    assert last.usage.completion_tokens == len(REPLY)
    assert last.harombe["tier"] == TIER
    assert chunks[-2].choices[0].finish_reason == "stop"


async def test_stream_wire(api_url: str, http) -> None:
    body = {"model": MODEL, "messages": USER, "stream": True}
    async with http.post(f"{api_url}/v1/chat/completions", json=body) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        assert resp.headers["X-Harombe-Node"] == NODE
        assert resp.headers["X-Harombe-Tier"] == str(TIER)
        payloads = sse_payloads(await resp.text())
    assert payloads[-1] == "[DONE]"
    events = [json.loads(p) for p in payloads[:-1]]
    assert all("harombe" not in e for e in events[:-1])
    assert events[-1]["harombe"]["model"] == MODEL


@pytest.mark.parametrize("include_usage", [False, True])
async def test_stream_text_events_are_whole_chunk_objects(
    api_url: str, http, include_usage
) -> None:
    """Text chunks (rendered from a template) carry the same envelope and fields as the rest."""
    body = {"model": MODEL, "messages": USER, "stream": True}
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    async with http.post(f"{api_url}/v1/chat/completions", json=body) as resp:
        events = [json.loads(p) for p in sse_payloads(await resp.text())[:-1]]
    envelope = {k: events[0][k] for k in ("id", "object", "created", "model")}
    assert envelope["object"] == "chat.completion.chunk"
    texts = [e for e in events if e["choices"] and "content" in e["choices"][0]["delta"]]
    assert "".join(e["choices"][0]["delta"]["content"] for e in texts) == ANSWER
    usage = {"usage": None} if include_usage else {}
    for event in texts[1:]:
        choice = {"index": 0, "delta": {"content": event["choices"][0]["delta"]["content"]},
                  "logprobs": None, "finish_reason": None}  # fmt: skip
        assert event == envelope | {"choices": [choice]} | usage


async def test_tools_whole(client: openai.AsyncOpenAI, api_backend: ScriptedBackend) -> None:
    done = await client.chat.completions.create(
        model=MODEL, messages=USER, tools=[WEATHER_TOOL], tool_choice="auto"
    )
    choice = done.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls
    assert (call.id, call.type, call.function.name) == ("call_1", "function", "get_weather")
    assert json.loads(call.function.arguments) == TOOL_ARGS
    assert api_backend.requests[-1].tools == [WEATHER_TOOL]


async def test_tools_stream(client: openai.AsyncOpenAI, api_backend: ScriptedBackend) -> None:
    stream = await client.chat.completions.create(
        model=MODEL, messages=USER, tools=[WEATHER_TOOL], stream=True
    )
    chunks = [c async for c in stream]
    calls = [t for c in chunks if c.choices for t in c.choices[0].delta.tool_calls or []]
    assert [(t.index, t.id, t.function.name) for t in calls] == [(0, "call_1", "get_weather")]
    assert json.loads(calls[0].function.arguments) == TOOL_ARGS
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert api_backend.requests[-1].tools == [WEATHER_TOOL]


async def test_tool_results_and_text_parts(client: openai.AsyncOpenAI, api_backend) -> None:
    messages = [
        {"role": "developer", "content": "be brief"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "weather "},
                {"type": "text", "text": "in Paris?"},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_9",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": json.dumps(TOOL_ARGS)},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_9", "content": "21 C"},
    ]
    await client.chat.completions.create(model=MODEL, messages=messages)
    system, user, assistant, tool = api_backend.requests[-1].messages
    assert (system.role, system.content) == ("system", "be brief")
    assert user.content == "weather in Paris?"
    assert assistant.tool_calls[0].arguments == TOOL_ARGS
    assert assistant.tool_calls[0].id == "call_9"
    assert (tool.role, tool.tool_call_id, tool.content) == ("tool", "call_9", "21 C")


async def test_tool_choice(client: openai.AsyncOpenAI, api_backend) -> None:
    other = {"type": "function", "function": {"name": "get_time"}}
    await client.chat.completions.create(
        model=MODEL, messages=USER, tools=[WEATHER_TOOL, other], tool_choice="none"
    )
    assert api_backend.requests[-1].tools is None
    named = {"type": "function", "function": {"name": "get_time"}}
    await client.chat.completions.create(
        model=MODEL, messages=USER, tools=[WEATHER_TOOL, other], tool_choice=named
    )
    assert api_backend.requests[-1].tools == [other]


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (b'{"model": "m"}', "messages"),
        (b'{"model": "m", "messages": []}', "messages"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model"),
        (b'{"model": "m", "messages": [{"role": "user", "content": 5}]}', "messages[0].content"),
        (
            b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": "1"}',
            "temperature",
        ),
        (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": [1]}', "stop"),
        (
            b'{"model": "m", "messages": [{"role": "user", "content": '
            b'[{"type": "image_url", "image_url": {"url": "x"}}]}]}',
            "messages[0].content",
        ),
        (
            b'{"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"id": "c",'
            b' "type": "function", "function": {"name": "f", "arguments": "{oops"}}]}]}',
            "messages[0].tool_calls[0].function.arguments",
        ),
        (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 2}', "n"),
        (
            b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": []'
            b', "tool_choice": {"type": "function", "function": {"name": "f"}}}',
            "tool_choice",
        ),
    ],
)
async def test_bad_requests(
    api_url: str, http, api_backend, body: bytes, param: str | None
) -> None:
    async with http.post(f"{api_url}/v1/chat/completions", data=body) as resp:
        assert resp.status == 400
        error = (await resp.json())["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"]
    if param is None:
        assert "malformed JSON" in error["message"]
    else:
        assert error["param"] is not None and error["param"].startswith(param)
    assert api_backend.requests == []


async def test_bad_request_through_client(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        await client.chat.completions.create(model=MODEL, messages=[])
    assert err.value.param == "messages"
    with pytest.raises(openai.BadRequestError, match="X-Harombe-Tier"):
        await client.chat.completions.create(
            model=MODEL, messages=USER, extra_headers={"X-Harombe-Tier": "high"}
        )


async def test_unknown_model(client: openai.AsyncOpenAI) -> None:
    for stream in (False, True):
        with pytest.raises(openai.NotFoundError) as err:
            await client.chat.completions.create(model="nope:7b", messages=USER, stream=stream)
        assert err.value.code == "model_not_found"
        assert "nope:7b" in err.value.message


async def test_unavailable(client: openai.AsyncOpenAI, api_url: str, http) -> None:
    busy = [{"role": "user", "content": "busy"}]
    with pytest.raises(openai.InternalServerError) as err:
        await client.chat.completions.create(model=MODEL, messages=busy)
    assert err.value.status_code == 503
    async with http.post(
        f"{api_url}/v1/chat/completions", json={"model": MODEL, "messages": busy}
    ) as resp:
        assert resp.headers["Retry-After"] == "7"


async def test_failure_mid_stream(client: openai.AsyncOpenAI, api_url: str, http) -> None:
    broken = [{"role": "user", "content": "break"}]
    body = {"model": MODEL, "messages": broken, "stream": True}
    async with http.post(f"{api_url}/v1/chat/completions", json=body) as resp:
        payloads = sse_payloads(await resp.text())
    assert "[DONE]" not in payloads
    assert "backend died mid-answer" in json.loads(payloads[-1])["error"]["message"]

    received = []
    with pytest.raises(openai.APIError, match="died mid-answer"):
        async for chunk in await client.chat.completions.create(
            model=MODEL, messages=broken, stream=True
        ):
            received.append(chunk.choices[0].delta.content)
    assert received == ["partial"]

    with pytest.raises(openai.APIStatusError) as err:
        await client.chat.completions.create(model=MODEL, messages=broken)
    assert err.value.status_code == 502

    done = await client.chat.completions.create(model=MODEL, messages=USER)
    assert done.choices[0].message.content == ANSWER


async def test_client_gone_mid_stream(api_url: str, http, api_backend, client) -> None:
    """A client hanging up closes the backend's stream; the peer keeps serving."""
    body = {"model": MODEL, "messages": [{"role": "user", "content": "endless"}], "stream": True}
    resp = await http.post(f"{api_url}/v1/chat/completions", json=body)
    assert (await resp.content.readline()).startswith(b"data: ")
    resp.close()
    async with asyncio.timeout(10):
        await api_backend.closed.wait()
    done = await client.chat.completions.create(model=MODEL, messages=USER)
    assert done.choices[0].message.content == ANSWER


async def test_unknown_fields_are_accepted(client: openai.AsyncOpenAI, api_backend) -> None:
    done = await client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "hi", "name": "ann"}],
        user="ann",
        frequency_penalty=0.1,
        response_format={"type": "text"},
        logit_bias={},
        extra_body={"top_k": 20, "repeat_penalty": 1.1},
    )
    assert done.choices[0].message.content == ANSWER
    assert api_backend.requests[-1].options.top_k == 20

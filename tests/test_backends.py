"""Backends against real servers: llama.cpp (xllamacpp) for OpenAI, the wire-exact fake Ollama."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from support.cli_support import free_port
from support.fake_ollama import FakeOllama, Script

from harombe.inference.llamacpp import EmbeddedLlamaCpp
from harombe.inference.ollama import OllamaBackend
from harombe.inference.openai_compat import OpenAIBackend
from harombe.inference.stats import MeasuredBackend
from harombe.inference.types import (
    Backend,
    BackendError,
    ChatChunk,
    ChatRequest,
    GenerationOptions,
    Message,
    ModelNotFoundError,
    ToolCall,
)


def ask(text: str = "hello", **options: object) -> ChatRequest:
    return ChatRequest(
        messages=[Message(role="user", content=text)],
        options=GenerationOptions(**options),  # type: ignore[arg-type]
    )


async def collect(stream: AsyncIterator[ChatChunk]) -> list[ChatChunk]:
    return [chunk async for chunk in stream]


@pytest.fixture
async def llama(llama_server) -> AsyncIterator[OpenAIBackend]:
    backend = OpenAIBackend(llama_server.base_url)
    yield backend
    await backend.aclose()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[web.Application], Awaitable[str]]]:
    """Start a small aiohttp app on loopback; returns its base URL."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{site.port}"

    yield start
    for runner in runners:
        await runner.cleanup()


def sse_app(body: bytes, status: int = 200) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, status=status, content_type="text/event-stream")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    return app


# --- OpenAI-compatible, against a real llama.cpp server ------------------------------------


async def test_llama_chat_streams_tokens_then_a_final_chunk(llama, llama_server):
    """The demo model may end any answer early (EOS), so look across a few seeds."""
    answers = [await collect(llama.chat(ask(max_tokens=8, seed=seed))) for seed in range(1, 6)]
    for *tokens, final in answers:
        assert all(c.content and not c.done for c in tokens)
        assert final.done and final.model == llama_server.model and final.prompt_tokens > 0
        assert final.completion_tokens <= 8
        assert final.done_reason == ("length" if final.completion_tokens == 8 else "stop")
    assert any(final.done_reason == "length" for *_, final in answers)


async def test_llama_same_seed_same_answer(llama):
    first = await collect(llama.chat(ask(max_tokens=12, seed=11, temperature=0.8)))
    second = await collect(llama.chat(ask(max_tokens=12, seed=11, temperature=0.8)))
    assert [c.content for c in first] == [c.content for c in second]


async def test_llama_answers_in_printable_ascii(llama):
    chunks = await collect(llama.chat(ask(max_tokens=100, seed=5)))
    assert "".join(c.content for c in chunks).isprintable()


async def test_llama_lists_its_model_and_is_healthy(llama, llama_server):
    (model,) = await llama.list_models()
    assert model.name == llama_server.model
    assert 0 < model.size < 1_000_000 and model.parameter_size == "115.4K"
    assert [m.name for m in await llama.loaded_models()] == [llama_server.model]
    health = await llama.health()
    assert health.ok, health.detail


async def test_llama_ignores_model_names_it_does_not_serve(llama, llama_server):
    """llama.cpp's single-model server answers whatever model is named: no ModelNotFoundError."""
    request = ask(max_tokens=2)
    request.model = "no-such-model"
    final = (await collect(llama.chat(request)))[-1]
    assert final.done and final.model == llama_server.model


async def test_base_url_may_end_in_v1(llama_server):
    backend = OpenAIBackend(f"{llama_server.base_url}/v1/")
    try:
        assert (await backend.health()).ok
    finally:
        await backend.aclose()


async def test_embedded_llamacpp_starts_serves_and_stops(tiny_gguf):
    async with EmbeddedLlamaCpp(tiny_gguf, model_name="tiny", n_ctx=512, threads=1) as backend:
        assert isinstance(backend, Backend)
        assert [m.name for m in await backend.list_models()] == ["tiny"]
        final = (await collect(backend.chat(ask(max_tokens=3))))[-1]
        assert final.completion_tokens <= 3 and final.model == "tiny"
        url = backend.base_url
    assert not (await backend.health()).ok
    with pytest.raises(BackendError, match="not running"):
        await collect(backend.chat(ask()))
    probe = OpenAIBackend(url, timeout=2)
    try:
        assert not (await probe.health()).ok  # the port is closed again
    finally:
        await probe.aclose()


async def test_two_embedded_servers_in_one_process(tiny_gguf, llama):
    async with (
        EmbeddedLlamaCpp(tiny_gguf, model_name="a", n_ctx=256, threads=1) as a,
        EmbeddedLlamaCpp(tiny_gguf, model_name="b", n_ctx=256, threads=1) as b,
    ):
        answers = await asyncio.gather(
            collect(a.chat(ask(max_tokens=4))),
            collect(b.chat(ask(max_tokens=4))),
            collect(llama.chat(ask(max_tokens=4))),
        )
        assert [chunks[-1].model for chunks in answers[:2]] == ["a", "b"]
        assert all(chunks[-1].completion_tokens <= 4 for chunks in answers)


async def test_embedded_llamacpp_bad_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf")
    with pytest.raises(BackendError, match="could not serve"):
        await EmbeddedLlamaCpp(bad, model_name="bad").start()
    with pytest.raises(FileNotFoundError):
        await EmbeddedLlamaCpp(tmp_path / "missing.gguf", model_name="x").start()


# --- OpenAI-compatible: failures ---------------------------------------------------------


async def test_connection_refused_is_retryable():
    backend = OpenAIBackend(f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(BackendError) as info:
            await collect(backend.chat(ask()))
        assert info.value.retryable and "cannot connect" in str(info.value)
        assert not (await backend.health()).ok
    finally:
        await backend.aclose()


@pytest.mark.parametrize(
    "body",
    [
        b"data: {not json}\n\n",
        b'data: ["a list"]\n\n',
        b'data: {"choices":[{"delta":{"content":"hi"}}]}\n\n',  # cut: no finish, no [DONE]
        b'data: {"error":{"message":"slot unavailable"}}\n\n',
        b'error: {"message":"context overflow"}\n\n',
        b"data: \xff\xfe\n\n",
    ],
    ids=["not-json", "not-object", "truncated", "error-event", "llamacpp-error", "not-utf8"],
)
async def test_malformed_stream_is_a_retryable_backend_error(serve, body):
    backend = OpenAIBackend(await serve(sse_app(body)))
    try:
        with pytest.raises(BackendError) as info:
            await collect(backend.chat(ask()))
        assert info.value.retryable
    finally:
        await backend.aclose()


@pytest.mark.parametrize(
    ("status", "body", "error", "retryable"),
    [
        (500, b'{"error":{"message":"boom"}}', BackendError, True),
        (503, b"overloaded", BackendError, True),
        (400, b'{"error":{"message":"bad request"}}', BackendError, False),
        (404, b'{"error":{"message":"The model `m` does not exist."}}', ModelNotFoundError, False),
        (400, b'{"error":{"message":"model m not found"}}', ModelNotFoundError, False),
    ],
)
async def test_http_errors_map_to_backend_errors(serve, status, body, error, retryable):
    backend = OpenAIBackend(await serve(sse_app(body, status)), default_model="m")
    try:
        with pytest.raises(error) as info:
            await collect(backend.chat(ask()))
        assert info.value.retryable is retryable
        assert info.value.status == (404 if error is ModelNotFoundError else status)
    finally:
        await backend.aclose()


async def test_streamed_tool_call_fragments_are_joined(serve):
    events = [
        '{"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":null}}]}',
        '{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1",'
        '"type":"function","function":{"name":"get_weather","arguments":""}}]}}]}',
        '{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,'
        '"function":{"arguments":"{\\"city\\": "}}]}}]}',
        '{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,'
        '"function":{"arguments":"\\"Paris\\"}"}}]}}]}',
        '{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}',
        '{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":9}}',
        "[DONE]",
    ]
    body = "".join(f"data: {e}\r\n\r\n" for e in events).encode()
    backend = OpenAIBackend(await serve(sse_app(body)))
    try:
        (final,) = await collect(backend.chat(ask()))
    finally:
        await backend.aclose()
    assert final.done and final.done_reason == "tool_calls"
    assert final.tool_calls == [
        ToolCall(name="get_weather", arguments={"city": "Paris"}, id="call_1")
    ]
    assert (final.prompt_tokens, final.completion_tokens) == (12, 9)


async def test_request_body_carries_options_tools_and_auth(serve):
    seen: dict = {}

    async def handler(request: web.Request) -> web.Response:
        seen["body"] = await request.json()
        seen["auth"] = request.headers.get("Authorization")
        done = b'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
        return web.Response(body=done, content_type="text/event-stream")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    request = ChatRequest(
        messages=[
            Message(role="user", content="hi"),
            Message(role="assistant", tool_calls=[ToolCall("f", {"x": 1}, id="c1")]),
            Message(role="tool", content="42", tool_call_id="c1"),
        ],
        tools=tools,
        options=GenerationOptions(
            temperature=0.5, top_p=0.9, top_k=20, max_tokens=7, seed=1, stop=["\n"]
        ),
    )
    backend = OpenAIBackend(await serve(app), api_key="sekret", default_model="m")
    try:
        await collect(backend.chat(request))
    finally:
        await backend.aclose()
    body = seen["body"]
    assert seen["auth"] == "Bearer sekret"
    assert body["model"] == "m" and body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["tools"] == tools
    assert {
        k: body[k] for k in ("temperature", "top_p", "top_k", "max_tokens", "seed", "stop")
    } == {
        "temperature": 0.5,
        "top_p": 0.9,
        "top_k": 20,
        "max_tokens": 7,
        "seed": 1,
        "stop": ["\n"],
    }
    assert body["messages"][1]["tool_calls"] == [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
    ]
    assert body["messages"][2] == {"role": "tool", "content": "42", "tool_call_id": "c1"}


async def test_health_falls_back_to_models_when_there_is_no_health_route(serve):
    async def models(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "m", "object": "model"}]})

    app = web.Application()
    app.router.add_get("/v1/models", models)
    backend = OpenAIBackend(await serve(app))
    try:
        health = await backend.health()
        assert health.ok and "/v1/models" in health.detail
        assert [m.name for m in await backend.list_models()] == ["m"]
    finally:
        await backend.aclose()


# --- Ollama, against the fake --------------------------------------------------------------


@pytest.fixture
async def ollama_backend(fake_ollama: FakeOllama) -> AsyncIterator[OllamaBackend]:
    backend = OllamaBackend(fake_ollama.url, default_model="llama3.2")
    yield backend
    await backend.aclose()


async def test_ollama_chat_streams(ollama_backend, fake_ollama):
    chunks = await collect(ollama_backend.chat(ask("a b c", max_tokens=3, seed=4, top_k=9)))
    assert [c.content for c in chunks[:-1]] == ["Hello", " from", " the"]
    final = chunks[-1]
    assert final.done and final.done_reason == "length"
    assert (final.prompt_tokens, final.completion_tokens) == (3, 3)
    assert final.model == "llama3.2"
    _, body = fake_ollama.requests[-1]
    assert body["options"] == {"num_predict": 3, "seed": 4, "top_k": 9}
    assert body["stream"] is True


async def test_ollama_tool_calls_come_with_the_final_chunk(ollama_backend, fake_ollama):
    fake_ollama.script = Script(text="", tool_calls=[{"name": "add", "arguments": {"a": 1}}])
    tools = [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}]
    request = ask("1+?")
    request.tools = tools
    (final,) = await collect(ollama_backend.chat(request))
    assert final.tool_calls == [ToolCall(name="add", arguments={"a": 1})]
    assert final.done_reason == "tool_calls"
    _, body = fake_ollama.requests[-1]
    assert body["tools"][0]["function"]["name"] == "add"


async def test_ollama_unknown_model_is_model_not_found(ollama_backend):
    request = ask()
    request.model = "nope"
    with pytest.raises(ModelNotFoundError) as info:
        await collect(ollama_backend.chat(request))
    assert info.value.model == "nope" and not info.value.retryable


@pytest.mark.parametrize(
    ("script", "before_error"),
    [
        (Script(fail_before_first_token=True), []),
        (Script(die_after_chunks=2), ["Hello", " from"]),
        (Script(error_after_chunks=1), ["Hello"]),
    ],
    ids=["http-500", "dies-mid-stream", "in-band-error"],
)
async def test_ollama_failures_are_retryable(ollama_backend, fake_ollama, script, before_error):
    fake_ollama.script = script
    received: list[str] = []
    with pytest.raises(BackendError) as info:
        async for chunk in ollama_backend.chat(ask()):
            received.append(chunk.content)
    assert info.value.retryable
    assert received == before_error


async def test_ollama_connection_refused():
    backend = OllamaBackend(f"http://127.0.0.1:{free_port()}", default_model="m")
    try:
        with pytest.raises(BackendError, match="cannot connect") as info:
            await collect(backend.chat(ask()))
        assert info.value.retryable
        health = await backend.health()
        assert not health.ok and "cannot connect" in health.detail
    finally:
        await backend.aclose()


async def test_ollama_without_any_model_name_is_a_clear_error(fake_ollama):
    backend = OllamaBackend(fake_ollama.url)
    try:
        with pytest.raises(BackendError, match=r"backend\.model") as info:
            await collect(backend.chat(ask()))
        assert not info.value.retryable and not fake_ollama.requests
    finally:
        await backend.aclose()


async def test_ollama_lists_models_loaded_models_and_health(ollama_backend):
    (model,) = await ollama_backend.list_models()
    assert (model.name, model.family, model.parameter_size, model.quantization) == (
        "llama3.2:latest",
        "llama",
        "3.2B",
        "Q4_K_M",
    )
    assert model.size > 0 and model.digest and model.modified_at
    (loaded,) = await ollama_backend.loaded_models()
    assert loaded.name == "llama3.2:latest" and loaded.size_vram > 0 and loaded.expires_at
    health = await ollama_backend.health()
    assert health.ok and "1 models" in health.detail


# --- MeasuredBackend over a real stream --------------------------------------------------


async def test_measured_backend_records_ttft_tps_and_active(fake_ollama):
    release = asyncio.Event()
    fake_ollama.script = Script(release=release)
    measured = MeasuredBackend(OllamaBackend(fake_ollama.url, default_model="llama3.2"))
    try:
        stream = measured.chat(ask())
        first = asyncio.ensure_future(anext(stream))
        await asyncio.wait_for(fake_ollama.arrived.wait(), 5)  # held before the first token
        assert measured.active == 1
        release.set()
        chunks = [await first, *[c async for c in stream]]
        assert chunks[-1].done and measured.active == 0
        ttft, tps = measured.stats.snapshot()
        assert set(ttft) == set(tps) == {"llama3.2"}
        assert ttft["llama3.2"] > 0 and tps["llama3.2"] > 0
    finally:
        await measured.aclose()


async def test_measured_backend_counts_down_on_failure(fake_ollama):
    fake_ollama.script = Script(die_after_chunks=1)
    measured = MeasuredBackend(OllamaBackend(fake_ollama.url, default_model="llama3.2"))
    try:
        with pytest.raises(BackendError):
            await collect(measured.chat(ask()))
        assert measured.active == 0
        ttft, tps = measured.stats.snapshot()
        assert "llama3.2" in ttft and not tps
    finally:
        await measured.aclose()

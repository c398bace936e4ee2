"""What the backend adapters send for embeddings, structured output and tool_choice, and what
they read back (context window, capabilities): OpenAI-compatible against a capturing aiohttp
server speaking the OpenAI wire format, Ollama (official client) against the fake Ollama."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import ollama
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from support.fake_ollama import FakeModel, FakeOllama, fake_embedding

from harombe.api.app import make_app
from harombe.inference.ollama import OllamaBackend
from harombe.inference.openai_compat import OpenAIBackend
from harombe.inference.types import (
    BackendError,
    ChatRequest,
    EmbedRequest,
    Message,
    ModelNotFoundError,
)
from harombe.routing.dispatch import Dispatcher
from harombe.routing.view import Candidate, StaticView

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
DONE = b'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]


@pytest.fixture
async def capture(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """An OpenAI-compatible server that records each request body."""
    bodies: list[dict[str, Any]] = []

    async def chat(request: web.Request) -> web.Response:
        bodies.append(await request.json())
        return web.Response(body=DONE, content_type="text/event-stream")

    async def embeddings(request: web.Request) -> web.Response:
        body = await request.json()
        bodies.append(body)
        if body.get("model") == "missing":
            return web.json_response({"error": {"message": "model not found"}}, status=404)
        rows = [
            {"object": "embedding", "index": i, "embedding": [float(i), 1.0]}
            for i in range(len(body["input"]))
        ]
        return web.json_response(
            {"object": "list", "data": rows[::-1], "model": "emb", "usage": {"prompt_tokens": 4}}
        )

    async def models(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "object": "list",
                "data": [{"id": "m", "object": "model", "meta": {"n_ctx": 4096, "size": 10}}],
                "models": [{"model": "m", "capabilities": ["completion"]}],
            }
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_get("/v1/models", models)
    server = await aiohttp_server(app, host="127.0.0.1")
    yield str(server.make_url("")).rstrip("/"), bodies


async def drain(backend: OpenAIBackend | OllamaBackend, request: ChatRequest) -> None:
    async for _ in backend.chat(request):
        pass


@pytest.mark.parametrize(
    ("format", "sent"),
    [
        ("json", {"type": "json_object"}),
        (
            SCHEMA,
            {
                "type": "json_schema",
                "json_schema": {"name": "response", "schema": SCHEMA, "strict": True},
            },
        ),
    ],
)
async def test_openai_backend_sends_response_format_and_tool_choice(capture, format, sent):
    url, bodies = capture
    backend = OpenAIBackend(url, default_model="m")
    try:
        request = ChatRequest(
            [Message("user", "hi")], tools=TOOLS, tool_choice="required", format=format
        )
        await drain(backend, request)
        await drain(backend, ChatRequest([Message("user", "hi")]))
    finally:
        await backend.aclose()
    assert bodies[0]["response_format"] == sent
    assert bodies[0]["tool_choice"] == "required"
    assert "response_format" not in bodies[1] and "tool_choice" not in bodies[1]


async def test_openai_backend_embeds_in_input_order(capture):
    url, bodies = capture
    backend = OpenAIBackend(url, default_model="m")
    try:
        result = await backend.embed(EmbedRequest(inputs=["a", "b", "c"], dimensions=2))
        with pytest.raises(ModelNotFoundError):
            await backend.embed(EmbedRequest(inputs=["a"], model="missing"))
        (info,) = await backend.list_models()
    finally:
        await backend.aclose()
    assert result.embeddings == [[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]]
    assert (result.model, result.prompt_tokens) == ("emb", 4)
    assert bodies[0] == {
        "input": ["a", "b", "c"],
        "encoding_format": "float",
        "model": "m",
        "dimensions": 2,
    }
    assert info.context_length == 4096 and info.capabilities == ["completion"]


@pytest.fixture
async def ollama_pair(fake_ollama: FakeOllama) -> AsyncIterator[tuple[OllamaBackend, FakeOllama]]:
    fake_ollama.models.append(
        FakeModel("nomic-embed-text:latest", family="nomic-bert", capabilities=["embedding"])
    )
    backend = OllamaBackend(fake_ollama.url, default_model="llama3.2")
    yield backend, fake_ollama
    await backend.aclose()


async def test_ollama_backend_embeds(ollama_pair):
    backend, fake = ollama_pair
    result = await backend.embed(
        EmbedRequest(inputs=["one two", "three"], model="nomic-embed-text", dimensions=4)
    )
    assert result.embeddings == [fake_embedding("one two", 4), fake_embedding("three", 4)]
    assert result.prompt_tokens == 3 and result.model == "nomic-embed-text:latest"
    path, body = fake.requests[-1]
    assert path == "/api/embed" and body["truncate"] is True and body["dimensions"] == 4


async def test_ollama_backend_embedding_refusals(ollama_pair):
    backend, _ = ollama_pair
    with pytest.raises(BackendError) as err:
        await backend.embed(EmbedRequest(inputs=[[1, 2]], model="nomic-embed-text"))
    assert err.value.status == 400 and not err.value.retryable
    with pytest.raises(BackendError) as err:
        await backend.embed(EmbedRequest(inputs=["x"], model="llama3.2"))
    assert err.value.status == 400 and "embeddings" in str(err.value)
    with pytest.raises(ModelNotFoundError):
        await backend.embed(EmbedRequest(inputs=["x"], model="nope"))


async def test_ollama_backend_sends_format(ollama_pair):
    backend, fake = ollama_pair
    await drain(backend, ChatRequest([Message("user", "hi")], format=SCHEMA))
    assert fake.requests[-1][1]["format"] == SCHEMA
    await drain(backend, ChatRequest([Message("user", "hi")], format="json"))
    assert fake.requests[-1][1]["format"] == "json"


async def test_ollama_backend_reads_window_and_capabilities_once(ollama_pair):
    backend, fake = ollama_pair
    first = {m.name: m for m in await backend.list_models()}
    assert first["llama3.2:latest"].context_length == 131072
    assert first["llama3.2:latest"].capabilities == ["completion", "tools"]
    assert first["nomic-embed-text:latest"].capabilities == ["embedding"]
    shows = sum(path == "/api/show" for path, _ in fake.requests)
    await backend.list_models()
    assert sum(path == "/api/show" for path, _ in fake.requests) == shows == 2


async def test_an_ollama_nodes_models_through_harombes_ollama_api(
    ollama_pair, aiohttp_server: Callable[..., Awaitable[TestServer]]
):
    """What `ollama show` / `ollama run` read: an embedding model says "embedding" (and
    `ollama run` embeds with it), a chat model says "completion"; names without a tag reach
    the ":latest" model, for chat and embeddings, as on Ollama."""
    backend, _ = ollama_pair
    names = [m.name for m in await backend.list_models()]
    local = Candidate("n", "127.0.0.1:0", models=names, loaded=names, is_local=True)
    dispatcher = Dispatcher(
        node_name="n", local_backend=backend, view=StaticView([local]), connect=lambda c: backend
    )
    server = await aiohttp_server(make_app(node_name="n", coordinator=dispatcher))
    client = ollama.AsyncClient(host=str(server.make_url("")).rstrip("/"))
    try:
        embedder = await client.show("nomic-embed-text")
        chat = await client.show("llama3.2")
        embedded = await client.embed(model="nomic-embed-text", input="hello")
        reply = await client.chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}])
    finally:
        await client.close()
    assert embedder.capabilities == ["embedding"]
    assert chat.capabilities == ["completion", "tools"]
    assert chat.modelinfo["llama.context_length"] == 131072
    assert embedded.embeddings == [fake_embedding("hello")]
    assert reply.message.content  # "llama3.2" is served as "llama3.2:latest", as by Ollama

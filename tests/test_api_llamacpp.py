"""End to end: the official ollama and openai clients → harombe's app → a real llama.cpp server.

The demo model's answers are noise and may end early (EOS), so the tests check the shape of
each answer and that every path delivers the same text for the same seed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp.test_utils import TestServer
from support.api_harness import local_dispatcher

from harombe.api.app import make_app
from harombe.inference.openai_compat import OpenAIBackend
from harombe.routing.route import VIRTUAL_MODELS

pytestmark = pytest.mark.llamacpp

NODE = "llama-node"
USER = [{"role": "user", "content": "Tell me a story."}]
SAMPLING = {"seed": 11, "temperature": 0.8}
MAX_TOKENS = 12


pytest_plugins = ["support.client_fixtures"]


@pytest.fixture
async def peer_url(
    llama_server, aiohttp_server: Callable[..., Awaitable[TestServer]]
) -> AsyncIterator[str]:
    backend = OpenAIBackend(llama_server.base_url)
    models = [m.name for m in await backend.list_models()]
    app = make_app(node_name=NODE, coordinator=local_dispatcher(NODE, 0, backend, models))
    server = await aiohttp_server(app, host="127.0.0.1")
    yield str(server.make_url("")).rstrip("/")
    await backend.aclose()


async def test_models_listed_by_both_apis(ollama_client, openai_client, llama_server) -> None:
    expected = [*VIRTUAL_MODELS, llama_server.model]
    assert [m.model for m in (await ollama_client.list()).models] == expected
    assert [m.id async for m in openai_client.models.list()] == expected
    shown = await ollama_client.show(llama_server.model)
    assert shown.details.parameter_size == "115.4K"


async def test_same_answer_through_every_path(ollama_client, openai_client, llama_server) -> None:
    options = {**SAMPLING, "num_predict": MAX_TOKENS}
    ollama_whole = await ollama_client.chat(
        model=llama_server.model, messages=USER, options=options
    )
    parts = [
        p
        async for p in await ollama_client.chat(
            model="auto", messages=USER, options=options, stream=True
        )
    ]
    create = openai_client.chat.completions.create
    openai_whole = await create(
        model=llama_server.model, messages=USER, max_tokens=MAX_TOKENS, **SAMPLING
    )
    chunks = [
        c
        async for c in await create(
            model="auto",
            messages=USER,
            max_tokens=MAX_TOKENS,
            stream=True,
            stream_options={"include_usage": True},
            **SAMPLING,
        )
    ]

    text = ollama_whole.message.content
    assert "".join(p.message.content or "" for p in parts) == text
    assert openai_whole.choices[0].message.content == (text or None)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == text

    assert ollama_whole.done and ollama_whole.done_reason in ("stop", "length")
    assert 0 < ollama_whole.eval_count <= MAX_TOKENS
    assert ollama_whole.prompt_eval_count > 0
    assert parts[-1].done and parts[-1].model == llama_server.model
    assert openai_whole.usage.completion_tokens == ollama_whole.eval_count
    assert chunks[-1].usage.completion_tokens == ollama_whole.eval_count
    assert chunks[-1].harombe["node"] == NODE
    assert openai_whole.harombe["model"] == llama_server.model


async def test_generate(ollama_client, llama_server) -> None:
    reply = await ollama_client.generate(
        model=llama_server.model, prompt="Once upon a time", options={"num_predict": 4, "seed": 1}
    )
    assert reply.done and 0 < reply.eval_count <= 4
    assert reply.model == llama_server.model

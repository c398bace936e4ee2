"""Third-party clients as their users run them → harombe's app → a real llama.cpp server.

Embeddings through the official ollama and openai clients; legacy completions through the
openai client; LangChain's `with_structured_output` (langchain-ollama and langchain-openai)
getting schema-valid objects. The demo model's text is noise, but llama.cpp constrains it to
the schema, so the objects parse; the schemas use bounded types (enums, booleans, integers) so
noise cannot run past the token limit inside a string.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Literal

import pytest
from aiohttp.test_utils import TestServer
from pydantic import BaseModel

from harombe.api.app import make_app
from harombe.inference.llamacpp import EmbeddedLlamaCpp, read_gguf_facts
from harombe.inference.openai_compat import OpenAIBackend
from harombe.inference.types import EmbedRequest
from harombe.routing.dispatch import Dispatcher
from harombe.routing.view import Candidate, StaticView

pytestmark = pytest.mark.llamacpp

NODE = "llama-node"
DEMO_EMBEDDING_SIZE = 64  # the demo model's n_embd
TEXTS = ["the cat sat on the mat", "a dog in the fog"]


class Weather(BaseModel):
    """A weather report."""

    sky: Literal["sunny", "cloudy", "rainy"]
    windy: bool


pytest_plugins = ["support.client_fixtures"]


@pytest.fixture
async def peer_url(
    llama_server, aiohttp_server: Callable[..., Awaitable[TestServer]]
) -> AsyncIterator[str]:
    backend = OpenAIBackend(llama_server.base_url)
    local = Candidate(
        NODE, "127.0.0.1:0", models=[llama_server.model], loaded=[llama_server.model], is_local=True
    )
    dispatcher = Dispatcher(
        node_name=NODE, local_backend=backend, view=StaticView([local]), connect=lambda c: backend
    )
    app = make_app(node_name=NODE, coordinator=dispatcher)
    server = await aiohttp_server(app, host="127.0.0.1")
    yield str(server.make_url("")).rstrip("/")
    await backend.aclose()


def assert_close(a: list[float], b: list[float]) -> None:
    assert len(a) == len(b)
    assert all(math.isclose(x, y, rel_tol=1e-5, abs_tol=1e-6) for x, y in zip(a, b, strict=True))


async def test_embeddings_through_both_official_clients(
    ollama_client, openai_client, llama_server
) -> None:
    model = llama_server.model
    embedded = await ollama_client.embed(model=model, input=TEXTS)
    assert len(embedded.embeddings) == 2
    assert {len(v) for v in embedded.embeddings} == {DEMO_EMBEDDING_SIZE}
    assert embedded.embeddings[0] != embedded.embeddings[1]
    assert embedded.prompt_eval_count and embedded.prompt_eval_count > 0
    assert embedded.model == model

    legacy = await ollama_client.embeddings(model=model, prompt=TEXTS[0])
    assert_close(list(legacy.embedding), list(embedded.embeddings[0]))

    # The openai client asks for base64 unless told otherwise, and decodes it itself.
    as_base64 = await openai_client.embeddings.create(model=model, input=TEXTS)
    as_floats = await openai_client.embeddings.create(
        model=model, input=TEXTS, encoding_format="float"
    )
    assert [d.index for d in as_floats.data] == [0, 1]
    for i in range(2):
        assert_close(as_floats.data[i].embedding, list(embedded.embeddings[i]))
        assert_close(as_base64.data[i].embedding, as_floats.data[i].embedding)
    assert as_floats.usage.prompt_tokens == embedded.prompt_eval_count
    assert as_floats.model == model


async def test_embedding_token_arrays(openai_client, llama_server) -> None:
    result = await openai_client.embeddings.create(
        model=llama_server.model, input=[[5, 6, 7], [8, 9]], encoding_format="float"
    )
    assert [len(d.embedding) for d in result.data] == [DEMO_EMBEDDING_SIZE] * 2
    assert result.usage.prompt_tokens == 5


async def test_legacy_completions(openai_client, llama_server) -> None:
    whole = await openai_client.completions.create(
        model=llama_server.model, prompt="Once upon a time", max_tokens=6, seed=3
    )
    assert whole.object == "text_completion" and whole.id.startswith("cmpl-")
    assert whole.choices[0].finish_reason in ("stop", "length")
    assert 0 < whole.usage.completion_tokens <= 6
    chunks = [
        c
        async for c in await openai_client.completions.create(
            model=llama_server.model, prompt="Once upon a time", max_tokens=6, seed=3, stream=True
        )
    ]
    assert "".join(c.choices[0].text for c in chunks) == whole.choices[0].text
    assert chunks[-1].choices[0].finish_reason == whole.choices[0].finish_reason


async def test_show_reports_the_context_window(ollama_client, llama_server) -> None:
    shown = await ollama_client.show(llama_server.model)
    windows = {k: v for k, v in shown.modelinfo.items() if k.endswith(".context_length")}
    assert list(windows.values()) == [2048]  # the fixture's n_ctx


async def test_langchain_ollama_structured_output(peer_url: str, llama_server) -> None:
    from langchain_ollama import ChatOllama

    chat = ChatOllama(model=llama_server.model, base_url=peer_url, num_predict=64, seed=5)
    report = await chat.with_structured_output(Weather).ainvoke("What is the weather?")
    assert isinstance(report, Weather)


async def test_langchain_openai_structured_output(peer_url: str, llama_server) -> None:
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(
        model=llama_server.model,
        base_url=f"{peer_url}/v1",
        api_key="unused",
        max_tokens=64,
        seed=5,
        max_retries=0,
    )
    report = await chat.with_structured_output(Weather, method="json_schema").ainvoke("Weather?")
    assert isinstance(report, Weather)


async def test_json_mode_gives_json(openai_client, llama_server) -> None:
    answer = await openai_client.chat.completions.create(
        model=llama_server.model,
        messages=[{"role": "user", "content": "JSON please"}],
        response_format={"type": "json_object"},
        max_tokens=48,
        seed=2,
    )
    text = answer.choices[0].message.content or ""
    assert text.lstrip()[:1] in ("{", "[")


async def test_embedded_llamacpp_embeds_with_a_chat_model(tiny_gguf: Path) -> None:
    facts = read_gguf_facts(tiny_gguf)
    assert not facts.declares_pooling  # so llama.cpp pools by mean
    async with EmbeddedLlamaCpp(tiny_gguf, model_name="demo") as backend:
        (info,) = await backend.list_models()
        assert info.capabilities == ["completion", "tools"]  # a chat model, as Ollama says
        assert info.context_length == 2048
        assert info.family == facts.architecture == "llama"
        result = await backend.embed(EmbedRequest(inputs=["hello"], model="demo"))
    assert len(result.embeddings[0]) == DEMO_EMBEDDING_SIZE

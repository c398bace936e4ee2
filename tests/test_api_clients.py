"""What third-party clients ask of a peer beyond chat: start-up probes, model details and
digests, embeddings, legacy completions, structured output, tool_choice, JSON errors on
unknown routes. A real harombe app around the scripted backend, driven by the official
`ollama` and `openai` clients (raw HTTP where the exact wire is the point)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

import aiohttp
import ollama
import openai
import pytest
from aiohttp.test_utils import TestServer
from support.api_harness import (
    MODEL,
    NODE,
    REPLY,
    WEATHER_TOOL,
    RecordingCoordinator,
    ScriptedBackend,
)

from harombe.api.app import make_app
from harombe.api.embedding import MAX_EMBED_INPUTS
from harombe.routing.route import VIRTUAL_MODELS

pytest_plugins = ["support.api_fixtures", "support.client_fixtures"]

USER = [{"role": "user", "content": "hi there"}]
SCHEMA = {
    "type": "object",
    "properties": {"sky": {"type": "string", "enum": ["sunny", "rainy"]}},
    "required": ["sky"],
}


@pytest.fixture
def peer_url(api_url: str) -> str:
    """The official clients (support.client_fixtures) talk to the harness's peer."""
    return api_url


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


# --- start-up probes ------------------------------------------------------------------------


async def test_root_answers_like_ollama(api_url: str, http) -> None:
    async with http.get(f"{api_url}/") as resp:
        assert resp.status == 200 and await resp.text() == "Ollama is running"
    async with http.head(f"{api_url}/") as resp:
        assert resp.status == 200 and await resp.read() == b""


async def test_the_ollama_cli_probe_sequence(api_url: str, http) -> None:
    """`ollama run auto`: HEAD /, show, an empty generate to load, then chat; `ollama list`
    and `ollama ps`: HEAD / then tags or ps (cmd/cmd.go, api/client.go)."""
    async with http.head(f"{api_url}/") as resp:
        assert resp.status == 200
    async with http.get(f"{api_url}/api/version") as resp:
        assert "version" in await resp.json()
    async with http.post(f"{api_url}/api/show", json={"model": "auto"}) as resp:
        shown = await resp.json()
        assert resp.status == 200 and "completion" in shown["capabilities"]
    async with http.post(f"{api_url}/api/generate", json={"model": "auto"}) as resp:
        loaded = await resp.json()
        assert loaded["done"] is True and loaded["done_reason"] == "load"
    for path in ("/api/tags", "/api/ps"):
        async with http.get(f"{api_url}{path}") as resp:
            assert resp.status == 200 and isinstance((await resp.json())["models"], list)


async def test_the_open_webui_requests(api_url: str, http) -> None:
    """What Open WebUI sends an Ollama connection (backend/open_webui/routers/ollama.py and
    retrieval/utils.py): verify, list, loaded models' expiry as datetimes, RAG embeddings."""
    async with http.get(f"{api_url}/api/version") as resp:
        assert resp.status == 200 and "version" in await resp.json()
    async with http.get(f"{api_url}/api/tags") as resp:
        names = [m["model"] for m in (await resp.json())["models"]]
    async with http.get(f"{api_url}/api/ps") as resp:
        running = (await resp.json())["models"]
    assert {m["name"] for m in running} <= set(names)
    assert all(datetime.fromisoformat(m["expires_at"]).timestamp() for m in running)
    rag = {"model": MODEL, "input": ["chunk one", "chunk two"], "prefix": "passage: "}
    async with http.post(f"{api_url}/api/embed", json=rag) as resp:
        assert len((await resp.json())["embeddings"]) == 2
    async with http.get(f"{api_url}/v1/models") as resp:  # an OpenAI connection's probe
        assert [m["id"] for m in (await resp.json())["data"]] == names


# --- models ---------------------------------------------------------------------------------


async def test_digests_distinct_and_stable_across_restarts(
    aiohttp_server: Callable[..., Awaitable[TestServer]], http
) -> None:
    async def digests() -> dict[str, str]:
        app = make_app(node_name=NODE, coordinator=RecordingCoordinator(ScriptedBackend()))
        server = await aiohttp_server(app, host="127.0.0.1")
        async with http.get(server.make_url("/api/tags")) as resp:
            listed = (await resp.json())["models"]
        await server.close()
        return {m["name"]: m["digest"] for m in listed}

    first, second = await digests(), await digests()
    assert first == second
    assert list(first) == [*VIRTUAL_MODELS, MODEL]
    assert len(set(first.values())) == len(first)
    assert all(re.fullmatch(r"[0-9a-f]{64}", d) for d in first.values())


async def test_show_gives_context_length_and_capabilities(ollama_client) -> None:
    shown = await ollama_client.show(MODEL)
    assert shown.modelinfo["general.architecture"] == "llama"
    assert shown.modelinfo["llama.context_length"] == 8192
    assert shown.capabilities == ["completion", "tools"]  # as the backend reports them
    assert (await ollama_client.show("auto")).capabilities == ["completion", "tools"]


async def test_ps_gives_expiry_and_vram(ollama_client) -> None:
    (running,) = (await ollama_client.ps()).models
    assert running.model == MODEL
    assert running.expires_at == datetime.fromisoformat("2030-01-02T03:04:05+00:00")
    assert running.size_vram == 1_000_000 and running.context_length == 8192


async def test_openai_model_by_id(openai_client) -> None:
    model = await openai_client.models.retrieve(MODEL)
    assert model.id == MODEL and model.object == "model" and model.owned_by == "harombe"
    assert (await openai_client.models.retrieve("auto")).harombe["virtual"] is True
    with pytest.raises(openai.NotFoundError) as err:
        await openai_client.models.retrieve("nope:7b")
    assert err.value.code == "model_not_found"


# --- unknown routes -------------------------------------------------------------------------


async def test_unknown_routes_answer_json_in_each_dialect(api_url: str, http, openai_client):
    async with http.post(f"{api_url}/api/nothing", json={}) as resp:
        assert resp.status == 404
        assert (await resp.json()) == {"error": "no such endpoint: POST /api/nothing"}
    async with http.get(f"{api_url}/api/chat") as resp:
        assert resp.status == 405 and resp.headers["Allow"] == "POST"
        assert "GET /api/chat" in (await resp.json())["error"]
    async with http.get(f"{api_url}/v1/embeddings") as resp:
        assert resp.status == 405 and resp.headers["Allow"] == "POST"
        assert (await resp.json())["error"]["type"] == "invalid_request_error"
    async with http.get(f"{api_url}/v1/nothing") as resp:
        assert resp.status == 404
        body = await resp.json()
    assert body["error"]["type"] == "invalid_request_error"
    assert set(body["error"]) == {"message", "type", "param", "code"}
    with pytest.raises(openai.NotFoundError) as err:
        await openai_client.post("/nothing", cast_to=object, body={})
    assert "POST /v1/nothing" in err.value.message
    async with http.get(f"{api_url}/nothing") as resp:  # harombe's own paths: {"error": ...}
        assert resp.status == 404 and "GET /nothing" in (await resp.json())["error"]


# --- embeddings -----------------------------------------------------------------------------


async def test_ollama_embed_and_legacy_embeddings(ollama_client, api_backend) -> None:
    embedded = await ollama_client.embed(model=MODEL, input=["ab", "cde"], dimensions=3)
    assert embedded.embeddings == [[2.0, 0.0, 0.5], [3.0, 1.0, 0.5]]
    assert embedded.prompt_eval_count == 5 and embedded.model == MODEL
    assert api_backend.embedded[-1].dimensions == 3
    single = await ollama_client.embed(model=MODEL, input="abcd")
    assert single.embeddings == [[4.0, 0.0, 0.5]]
    legacy = await ollama_client.embeddings(model=MODEL, prompt="xyz")
    assert list(legacy.embedding) == [3.0, 0.0, 0.5]
    assert (await ollama_client.embed(model=MODEL, input=[])).embeddings == []
    assert len(api_backend.embedded) == 3  # the empty one asked no node


async def test_openai_embeddings_float_base64_and_tokens(openai_client, api_url, http) -> None:
    as_base64 = await openai_client.embeddings.create(model=MODEL, input=["ab", "c"])
    as_floats = await openai_client.embeddings.create(
        model=MODEL, input=["ab", "c"], encoding_format="float"
    )
    assert [d.embedding for d in as_floats.data] == [[2.0, 0.0, 0.5], [1.0, 1.0, 0.5]]
    assert [d.embedding for d in as_base64.data] == [d.embedding for d in as_floats.data]
    assert as_floats.usage.prompt_tokens == 3 and as_floats.model == MODEL
    tokens = await openai_client.embeddings.create(
        model=MODEL, input=[7, 8, 9, 10], encoding_format="float"
    )
    assert tokens.data[0].embedding == [4.0, 0.0, 0.5]
    async with http.post(f"{api_url}/v1/embeddings", json={"model": MODEL, "input": "x"}) as r:
        assert r.headers["X-Harombe-Node"] == NODE
        assert (await r.json())["harombe"]["node"] == NODE


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "auto", "input": "x"}, 400, "model"),
        ({"model": "nope:1b", "input": "x"}, 404, None),
        ({"model": MODEL, "input": []}, 400, "input"),
        ({"model": MODEL, "input": ["a", ""]}, 400, "input"),
        ({"model": MODEL, "input": "x", "encoding_format": "int8"}, 400, "encoding_format"),
        ({"model": MODEL, "input": ["x"] * (MAX_EMBED_INPUTS + 1)}, 400, "input"),
    ],
)
async def test_bad_embedding_requests(api_url, http, api_backend, body, status, param) -> None:
    async with http.post(f"{api_url}/v1/embeddings", json=body) as resp:
        assert resp.status == status
        error = (await resp.json())["error"]
    if param:
        assert error["param"] == param
    assert all(r.model != "auto" and all(r.inputs) for r in api_backend.embedded)


async def test_ollama_embed_refusals_are_clear_400s(ollama_client, api_backend) -> None:
    with pytest.raises(ollama.ResponseError) as err:
        await ollama_client.embed(model="auto", input="x")
    assert err.value.status_code == 400 and "real model" in err.value.error
    with pytest.raises(ollama.ResponseError) as err:
        await ollama_client.embed(model=MODEL, input=["x"] * (MAX_EMBED_INPUTS + 1))
    assert err.value.status_code == 400 and str(MAX_EMBED_INPUTS) in err.value.error
    assert api_backend.embedded == []


# --- legacy completions ---------------------------------------------------------------------


async def test_legacy_completion_whole_and_streamed(openai_client, api_backend) -> None:
    whole = await openai_client.completions.create(model=MODEL, prompt="Say hi")
    assert whole.object == "text_completion" and whole.choices[0].text == "".join(REPLY)
    assert whole.choices[0].finish_reason == "stop"
    assert whole.usage.completion_tokens == len(REPLY)
    assert api_backend.requests[-1].options.max_tokens == 16  # OpenAI's default
    assert api_backend.requests[-1].messages[-1].content == "Say hi"
    chunks = [
        c
        async for c in await openai_client.completions.create(
            model="auto", prompt="Say hi", stream=True, stream_options={"include_usage": True}
        )
    ]
    assert "".join(c.choices[0].text for c in chunks) == "".join(REPLY)
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage.total_tokens > 0


@pytest.mark.parametrize(
    ("extra", "param"),
    [({"n": 2}, "n"), ({"suffix": "x"}, "suffix"), ({"prompt": ["a", "b"]}, "prompt")],
)
async def test_legacy_completion_refuses_what_it_cannot_do(openai_client, extra, param) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        await openai_client.completions.create(**({"model": MODEL, "prompt": "hi"} | extra))
    assert err.value.param == param


# --- structured output and tool_choice ------------------------------------------------------


async def test_ollama_format_reaches_the_backend(ollama_client, api_backend) -> None:
    await ollama_client.chat(model=MODEL, messages=USER, format="json")
    assert api_backend.requests[-1].format == "json"
    await ollama_client.chat(model=MODEL, messages=USER, format=SCHEMA)
    assert api_backend.requests[-1].format == SCHEMA
    await ollama_client.generate(model=MODEL, prompt="hi", format=SCHEMA)
    assert api_backend.requests[-1].format == SCHEMA
    await ollama_client.chat(model=MODEL, messages=USER)
    assert api_backend.requests[-1].format is None


async def test_openai_response_format_and_tool_choice_reach_the_backend(
    openai_client, api_backend
) -> None:
    create = openai_client.chat.completions.create
    schema_format = {"type": "json_schema", "json_schema": {"name": "w", "schema": SCHEMA}}
    await create(model=MODEL, messages=USER, response_format=schema_format)
    assert api_backend.requests[-1].format == SCHEMA
    await create(model=MODEL, messages=USER, response_format={"type": "json_object"})
    assert api_backend.requests[-1].format == "json"
    await create(model=MODEL, messages=USER, response_format={"type": "text"})
    assert api_backend.requests[-1].format is None

    named = {"type": "function", "function": {"name": "get_weather"}}
    for choice, expected in (("required", "required"), ("auto", "auto"), (named, "required")):
        await create(model=MODEL, messages=USER, tools=[WEATHER_TOOL], tool_choice=choice)
        assert api_backend.requests[-1].tool_choice == expected
        assert api_backend.requests[-1].tools is not None
    await create(model=MODEL, messages=USER, tools=[WEATHER_TOOL], tool_choice="none")
    assert api_backend.requests[-1].tools is None and api_backend.requests[-1].tool_choice is None


async def test_bad_response_format_is_a_400(openai_client) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        await openai_client.chat.completions.create(
            model=MODEL, messages=USER, response_format={"type": "json_schema"}
        )
    assert "json_schema" in err.value.message

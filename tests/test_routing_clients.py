"""Client features through the cluster: a peer without a backend forwards structured output,
tool_choice and embeddings to a peer backed by a real llama.cpp server, names the serving node,
and moves embeddings to another node when the first one is gone."""

from __future__ import annotations

import json
from typing import Literal

import aiohttp
import openai
import pytest
from pydantic import BaseModel
from support.routing_peers import RoutingCluster

from harombe.inference.types import BackendError, EmbedRequest, EmbedResult, ModelNotFoundError
from harombe.routing.config import RoutingConfig
from harombe.routing.dispatch import Dispatcher
from harombe.routing.route import RouteOptions
from harombe.routing.view import Candidate, StaticView


class Answer(BaseModel):
    mood: Literal["happy", "sad"]
    count: int
    sure: bool


@pytest.mark.llamacpp
async def test_json_schema_format_through_a_forwarding_hop(llama_server):
    cluster = RoutingCluster(RoutingConfig())
    await cluster.add("front", 1, fake=False)
    await cluster.add("llama", 0, model=llama_server.model, backend_url=llama_server.base_url)
    body = {
        "model": llama_server.model,
        "messages": [{"role": "user", "content": "How are you?"}],
        "format": Answer.model_json_schema(),
        "options": {"num_predict": 64, "seed": 4},
        "stream": False,
    }
    async with cluster, aiohttp.ClientSession() as http:
        async with http.post(f"{cluster['front'].url}/api/chat", json=body) as resp:
            reply = await resp.json()
            assert resp.headers["X-Harombe-Node"] == "llama"
        show = {"model": llama_server.model}  # the window the serving peer gossips
        async with http.post(f"{cluster['front'].url}/api/show", json=show) as resp:
            model_info = (await resp.json())["model_info"]
        assert [v for k, v in model_info.items() if k.endswith(".context_length")] == [2048]
    Answer.model_validate_json(reply["message"]["content"])
    assert reply["harombe"]["node"] == "llama"


@pytest.mark.llamacpp
async def test_openai_structured_output_through_a_hop_to_the_tier(llama_server):
    cluster = RoutingCluster(RoutingConfig())
    await cluster.add("front", 1, fake=False)
    await cluster.add("llama", 0, model=llama_server.model, backend_url=llama_server.base_url)
    async with cluster:
        client = openai.AsyncOpenAI(
            base_url=f"{cluster['front'].url}/v1", api_key="x", max_retries=0
        )
        try:
            completion = await client.chat.completions.parse(
                model="tier-0",
                messages=[{"role": "user", "content": "How are you?"}],
                response_format=Answer,
                max_tokens=64,
                seed=4,
            )
        finally:
            await client.close()
    assert isinstance(completion.choices[0].message.parsed, Answer)
    assert completion.model_extra["harombe"]["node"] == "llama"


@pytest.mark.llamacpp
async def test_embeddings_forwarded_and_failed_over(llama_server):
    """Signed with the cluster key, as every forwarded request is."""
    cluster = RoutingCluster(RoutingConfig(), keyring=[b"the-cluster-key-for-embeddings"])
    await cluster.add("front", 1, fake=False)
    for name in ("llama-a", "llama-b"):
        await cluster.add(name, 0, model=llama_server.model, backend_url=llama_server.base_url)
    async with cluster:
        client = openai.AsyncOpenAI(
            base_url=f"{cluster['front'].url}/v1", api_key="x", max_retries=0
        )
        try:
            texts = ["alpha", "beta"]
            first = await client.embeddings.create(
                model=llama_server.model, input=texts, encoding_format="float"
            )
            served = first.model_extra["harombe"]["node"]
            assert served in ("llama-a", "llama-b")
            await cluster.stop_http(served)
            other = ({"llama-a", "llama-b"} - {served}).pop()
            for _ in range(3):  # whichever node the balancer picks first, `other` answers
                again = await client.embeddings.create(
                    model=llama_server.model, input=texts, encoding_format="float"
                )
                assert again.model_extra["harombe"]["node"] == other
                assert [d.embedding for d in again.data] == [d.embedding for d in first.data]
            tokens = await client.embeddings.create(  # token arrays cross the hop too
                model=llama_server.model, input=[[5, 6, 7], [8, 9]], encoding_format="float"
            )
            assert [len(d.embedding) for d in tokens.data] == [len(first.data[0].embedding)] * 2
            assert tokens.usage.prompt_tokens == 5
            with pytest.raises(openai.BadRequestError):
                await client.embeddings.create(model="auto", input="x")
            with pytest.raises(openai.NotFoundError):
                await client.embeddings.create(model="nope:1b", input="x")
        finally:
            await client.close()
    assert json.dumps(first.usage.model_dump())  # usage survives the hop
    assert first.usage.prompt_tokens > 0


async def test_format_and_tool_choice_reach_the_remote_backend_unchanged():
    cluster = RoutingCluster(RoutingConfig())
    await cluster.add("front", 1, fake=False)
    await cluster.add("b", 0)
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    schema_format = {
        "type": "json_schema",
        "json_schema": {"name": "a", "schema": Answer.model_json_schema()},
    }
    async with cluster:
        client = openai.AsyncOpenAI(
            base_url=f"{cluster['front'].url}/v1", api_key="x", max_retries=0
        )
        try:
            await client.chat.completions.create(
                model="fake-model",
                messages=[{"role": "user", "content": "hi"}],
                tools=[tool],
                tool_choice="required",
                response_format=schema_format,
            )
        finally:
            await client.close()
        (sent,) = cluster["b"].fake.requests
    assert sent["tool_choice"] == "required"
    assert sent["tools"] == [tool]
    assert sent["response_format"]["json_schema"]["schema"] == Answer.model_json_schema()


class EmbedOnly:
    """A backend that embeds (one vector per input, naming itself) or fails as told."""

    kind = "scripted"

    def __init__(self, name: str, failure: BackendError | None = None) -> None:
        self.name, self.failure, self.calls = name, failure, 0

    async def embed(self, request: EmbedRequest) -> EmbedResult:
        self.calls += 1
        if self.failure is not None:
            raise self.failure
        return EmbedResult([[1.0] for _ in request.inputs], model=self.name, prompt_tokens=1)


def two_node_dispatcher(a: EmbedOnly, b: EmbedOnly) -> Dispatcher:
    """Node "a" is far away, so the balancer tries it second unless "b" cannot serve."""
    backends = {"a": a, "b": b}
    view = StaticView(
        Candidate(n, f"{n}:1", models=["m"], loaded=["m"], rtt=rtt)
        for n, rtt in (("a", 5.0), ("b", 0.001))
    )
    config = RoutingConfig(breaker_failure_threshold=1)
    return Dispatcher(
        node_name="front",
        local_backend=None,
        view=view,
        connect=lambda c: backends[c.name],  # type: ignore[return-value]
        config=config,
    )


async def test_embeddings_fail_over_on_node_faults_only():
    broken = EmbedOnly("b", BackendError("connection refused"))
    dispatcher = two_node_dispatcher(EmbedOnly("a"), broken)
    done = await dispatcher.embed(EmbedRequest(["x"], model="m"), RouteOptions())
    assert done.route.node == "a" and done.result.model == "a"
    assert broken.calls == 1 and dispatcher.breakers()["b"] == "open"

    refused = EmbedOnly("b", BackendError("bad input", status=400, retryable=False))
    healthy = EmbedOnly("a")
    dispatcher = two_node_dispatcher(healthy, refused)
    with pytest.raises(BackendError) as err:
        await dispatcher.embed(EmbedRequest(["x"], model="m"), RouteOptions())
    assert err.value.status == 400 and healthy.calls == 0  # the client's error: not re-sent
    assert dispatcher.breakers().get("b", "closed") == "closed"

    with pytest.raises(ModelNotFoundError):
        await dispatcher.embed(EmbedRequest(["x"], model="other"), RouteOptions())

    both_down = two_node_dispatcher(
        EmbedOnly("a", BackendError("timed out")), EmbedOnly("b", BackendError("refused"))
    )
    with pytest.raises(BackendError) as err:
        await both_down.embed(EmbedRequest(["x"], model="m"), RouteOptions())
    assert err.value.status == 502 and "timed out" in str(err.value)


async def test_the_listed_window_is_the_smallest_a_serving_node_reports():
    view = StaticView(
        Candidate(n, f"{n}:1", models=["m"], ctx={"m": size} if size else {})
        for n, size in (("a", 8192), ("b", 2048), ("c", None))
    )
    dispatcher = Dispatcher(
        node_name="front", local_backend=None, view=view, connect=lambda c: EmbedOnly(c.name)
    )
    (model,) = await dispatcher.models()
    assert model.info.context_length == 2048 and sorted(model.nodes) == ["a", "b", "c"]

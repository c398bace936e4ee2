"""Errors are the client's or the node's: a backend's 4xx reaches the client as 400 in its own
dialect, names no backend address, is not retried on another node and never counts against a
breaker; only node faults (connect errors, timeouts, 5xx) do."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import ollama
import openai
import pytest
from support.routing_peers import RoutingCluster

from harombe.routing.config import RoutingConfig
from sim.fake_openai import Reply

QUESTION = [{"role": "user", "content": "What is 2+2?"}]
ATTEMPTS = 8  # well past the breaker threshold (3)


@pytest.fixture
async def trio() -> AsyncIterator[RoutingCluster]:
    """Three peers serving the same model; every backend rejects every request (HTTP 400)."""
    cluster = RoutingCluster(RoutingConfig(breaker_failure_threshold=3, first_token_timeout=5.0))
    for name in ("a", "b", "c"):
        await cluster.add(name, 1)
    async with cluster:
        for peer in cluster.peers.values():
            peer.fake.default = Reply(status=400)
        yield cluster


def assert_no_node_blamed(cluster: RoutingCluster) -> None:
    for peer in cluster.peers.values():
        assert peer.dispatcher is not None
        assert set(peer.dispatcher.breakers().values()) <= {"closed"}
        assert all(peer.dispatcher.breaker_board.get(n).failures == 0 for n in cluster.peers)


async def test_a_backend_4xx_is_a_400_for_an_openai_client_and_blames_no_node(trio):
    client = openai.AsyncOpenAI(base_url=f"{trio['a'].url}/v1", api_key="unused", max_retries=0)
    for _ in range(ATTEMPTS):
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(model="fake-model", messages=QUESTION)
        message = caught.value.body["message"]  # type: ignore[index]
        assert "rejected the request" in message and "http://" not in message
        assert "127.0.0.1" not in message
    assert sum(trio.served().values()) == ATTEMPTS  # each asked of one node, never re-sent
    assert_no_node_blamed(trio)


async def test_a_backend_4xx_is_a_400_for_an_ollama_client_streamed_or_not(trio):
    client = ollama.AsyncClient(host=trio["b"].url)
    for stream in (False, True) * (ATTEMPTS // 2):
        with pytest.raises(ollama.ResponseError) as caught:
            answer = await client.chat(model="fake-model", messages=QUESTION, stream=stream)
            if stream:
                async for _ in answer:  # type: ignore[union-attr]
                    pass
        assert caught.value.status_code == 400 and "127.0.0.1" not in caught.value.error
    assert sum(trio.served().values()) == ATTEMPTS
    assert_no_node_blamed(trio)


@pytest.mark.parametrize(
    "options",
    [{"temperature": "abc"}, {"temperature": "Infinity"}, {"top_k": "many"}, {"num_predict": -5}],
)
async def test_invalid_options_cannot_open_any_breaker(trio, options):
    for peer in trio.peers.values():
        peer.fake.default = Reply()  # healthy backends: only the request is odd
    body = {"model": "auto", "messages": QUESTION, "stream": False, "options": options}
    async with aiohttp.ClientSession() as http:
        for _ in range(ATTEMPTS):
            async with http.post(f"{trio['a'].url}/api/chat", json=body) as resp:
                payload = await resp.json()
            assert resp.status in (200, 400), payload
            assert resp.status == 200 or "127.0.0.1" not in payload["error"]
    assert_no_node_blamed(trio)


async def test_a_backend_5xx_still_counts_against_its_node(trio):
    trio["c"].fake.default = Reply()
    for name in ("a", "b"):
        trio[name].fake.default = Reply(status=500)
    client = openai.AsyncOpenAI(base_url=f"{trio['a'].url}/v1", api_key="unused", max_retries=0)
    for _ in range(ATTEMPTS):
        answer = await client.chat.completions.create(model="fake-model", messages=QUESTION)
        assert answer.choices[0].message.content == "Hello from fake"
    breakers = trio["a"].dispatcher.breakers()
    assert breakers["a"] == "open" and breakers["b"] == "open" and breakers["c"] == "closed"

"""Routing to a peer backed by a real llama.cpp server (the tiny demo model): a forwarded
answer, and a mid-stream continuation that llama.cpp completes from the assistant prefix."""

from __future__ import annotations

import json

import aiohttp
from support.routing_peers import RoutingCluster

from harombe.settings.routing import RoutingConfig
from sim.fake_openai import Reply


async def chat(url: str) -> tuple[int, str, dict]:
    body = {
        "model": "auto",
        "messages": [{"role": "user", "content": "Hi"}],
        "options": {"num_predict": 8, "temperature": 1.0, "seed": 1},  # the demo model
        # stops at once at temperature 0 after an assistant prefix
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/api/chat", json=body) as resp:
            lines = [json.loads(x) for x in (await resp.read()).splitlines() if x.strip()]
    text = "".join((x.get("message") or {}).get("content", "") for x in lines)
    return resp.status, text, lines[-1]


async def test_a_llamacpp_peer_answers_a_forwarded_request(llama_server):
    cluster = RoutingCluster(RoutingConfig())
    await cluster.add("e", 1, fake=False)
    await cluster.add("llama", 0, model=llama_server.model, backend_url=llama_server.base_url)
    async with cluster:
        status, text, last = await chat(cluster["e"].url)
    assert status == 200 and text
    assert last["done"] and last["harombe"]["node"] == "llama"
    assert last["eval_count"] > 0


async def test_llamacpp_continues_an_answer_another_node_dropped(llama_server):
    cluster = RoutingCluster(RoutingConfig())
    await cluster.add("e", 1, fake=False)
    await cluster.add("b", 0)
    await cluster.add(
        "llama", 0, model=llama_server.model, backend_url=llama_server.base_url, rtt=1.0
    )
    async with cluster:
        cluster["b"].fake.script.append(Reply(["Once upon", " a time", " there"], die_after=2))
        status, text, last = await chat(cluster["e"].url)
    assert status == 200
    assert text.startswith("Once upon a time") and len(text) > len("Once upon a time")
    [switch] = last["harombe"]["fallbacks"]
    assert (switch["from_node"], switch["to_node"]) == ("b", "llama")
    assert switch["after_chars"] == len("Once upon a time")

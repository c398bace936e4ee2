"""Routing over real peers on loopback: tiers, fallback, spreading, breakers, failover,
mid-stream continuation, hop loops, deadlines, saturation, /cluster/*, models, peer auth."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import ollama
import openai
import pytest
from fake_openai import Reply
from routing_peers import RoutingCluster

from harombe.routing.config import RoutingConfig

SIMPLE = "What is 2+2?"
MEDIUM = "Summarize the main arguments of this essay and critique its reasoning."
COMPLEX = (
    "Design a fault-tolerant distributed database architecture with consensus, sharding and "
    "cross-region replication, and prove its consistency guarantees."
)


def config(**kw: Any) -> RoutingConfig:
    kw.setdefault("breaker_cooldown", 0.2)
    kw.setdefault("first_token_timeout", 5.0)
    return RoutingConfig(**kw)


async def chat_ndjson(
    url: str, prompt: str, *, model: str = "auto", headers: dict[str, str] | None = None
) -> tuple[int, str, list[dict[str, Any]], dict[str, str]]:
    """POST /api/chat (streaming) with aiohttp: (status, whole text, lines, response headers)."""
    body = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/api/chat", json=body, headers=headers or {}) as resp:
            raw = await resp.read()
            lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
            text = "".join((x.get("message") or {}).get("content", "") for x in lines)
            return resp.status, text, lines, dict(resp.headers)


async def ask(url: str, prompt: str, model: str = "auto") -> str:
    """One streamed chat through the official ollama client; the whole text."""
    client = ollama.AsyncClient(host=url)
    parts = []
    async for part in await client.chat(
        model=model, messages=[{"role": "user", "content": prompt}], stream=True
    ):
        parts.append(part.message.content or "")
    return "".join(parts)


async def wait_until(predicate, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    until = loop.time() + timeout
    while not predicate():
        assert loop.time() < until, "condition not reached in time"
        await asyncio.sleep(0.01)


@pytest.fixture
async def tiers() -> AsyncIterator[RoutingCluster]:
    """Entry peer `e` (routes only) and one peer per tier."""
    cluster = RoutingCluster(config(breaker_failure_threshold=1))
    await cluster.add("e", 1, fake=False)
    for tier in range(3):
        await cluster.add(f"t{tier}", tier)
    async with cluster:
        yield cluster


async def test_queries_go_to_the_tier_they_need(tiers: RoutingCluster):
    url = tiers["e"].url
    assert await ask(url, SIMPLE) == "Hello from fake"
    assert tiers.served() == {"t0": 1, "t1": 0, "t2": 0}
    await ask(url, MEDIUM)
    await ask(url, COMPLEX)
    assert tiers.served() == {"t0": 1, "t1": 1, "t2": 1}
    await ask(url, SIMPLE, model="tier-2")
    status, _, lines, headers = await chat_ndjson(url, COMPLEX, headers={"X-Harombe-Tier": "0"})
    assert status == 200 and headers["X-Harombe-Node"] == "t0"
    meta = lines[-1]["harombe"]
    assert meta["node"] == "t0" and meta["tier"] == 0 and meta["classified_tier"] is None
    assert tiers.served() == {"t0": 2, "t1": 1, "t2": 2}


async def test_whole_tier_gone_falls_back_in_order_and_returns_when_it_recovers(
    tiers: RoutingCluster,
):
    url = tiers["e"].url
    await tiers.stop_http("t1")
    status, _, lines, _ = await chat_ndjson(url, MEDIUM)  # tier 1 -> 2 -> 0
    assert status == 200
    meta = lines[-1]["harombe"]
    assert meta["node"] == "t2" and meta["classified_tier"] == 1
    [switch] = meta["fallbacks"]
    assert switch["from_node"] == "t1" and switch["to_node"] == "t2"
    assert switch["after_chars"] == 0 and "connect" in switch["reason"]
    assert tiers["e"].dispatcher.breakers()["t1"] == "open"

    _, _, lines, _ = await chat_ndjson(url, MEDIUM)  # breaker open: straight to tier 2
    assert lines[-1]["harombe"]["node"] == "t2" and lines[-1]["harombe"]["fallbacks"] == []

    await tiers.stop_http("t2")
    _, _, lines, _ = await chat_ndjson(url, MEDIUM)
    assert lines[-1]["harombe"]["node"] == "t0"

    await tiers.start_http("t1")
    await tiers.start_http("t2")
    breakers = tiers["e"].dispatcher.breakers
    await wait_until(lambda: breakers()["t1"] == "half_open")
    _, _, lines, _ = await chat_ndjson(url, MEDIUM)
    assert lines[-1]["harombe"]["node"] == "t1"
    assert breakers()["t1"] == "closed"


@pytest.fixture
async def pair() -> AsyncIterator[RoutingCluster]:
    """Entry `e` (tier 0, routes only), `b` and `c` on tier 1; `c` looks farther, so `b` is
    tried first while it is usable."""
    cluster = RoutingCluster(config(breaker_failure_threshold=2))
    await cluster.add("e", 0, fake=False)
    await cluster.add("b", 1)
    await cluster.add("c", 1, rtt=1.0)
    async with cluster:
        yield cluster


async def test_same_tier_nodes_share_the_load():
    cluster = RoutingCluster(config())
    await cluster.add("e", 1, fake=False)
    await cluster.add("x", 0)
    await cluster.add("y", 0)
    async with cluster:
        for _ in range(20):
            await ask(cluster["e"].url, SIMPLE)
        served = cluster.served()
    assert served["x"] + served["y"] == 20
    assert served["x"] >= 3 and served["y"] >= 3


async def test_failure_before_the_first_token_retries_on_the_next_node(pair: RoutingCluster):
    pair["b"].fake.script.append(Reply(status=500))
    status, text, lines, _ = await chat_ndjson(pair["e"].url, MEDIUM)
    assert status == 200 and text == "Hello from fake"
    meta = lines[-1]["harombe"]
    assert meta["node"] == "c"
    assert [(s["from_node"], s["to_node"], s["after_chars"]) for s in meta["fallbacks"]] == [
        ("b", "c", 0)
    ]
    assert pair.served() == {"b": 1, "c": 1}


async def test_breaker_opens_skips_the_node_then_probes_and_closes(pair: RoutingCluster):
    url, b = pair["e"].url, pair["b"]
    breakers = pair["e"].dispatcher.breakers
    b.fake.default = Reply(status=500)
    for _ in range(2):
        assert await ask(url, MEDIUM) == "Hello from fake"  # each rescued by c
    assert breakers()["b"] == "open" and pair.served() == {"b": 2, "c": 2}
    await ask(url, MEDIUM)
    assert pair.served() == {"b": 2, "c": 3}  # b skipped while open

    await wait_until(lambda: breakers()["b"] == "half_open")
    await ask(url, MEDIUM)  # the probe fails: open again
    assert breakers()["b"] == "open" and pair.served() == {"b": 3, "c": 4}

    b.fake.default = Reply()
    await wait_until(lambda: breakers()["b"] == "half_open")
    await ask(url, MEDIUM)  # the probe succeeds: closed
    assert breakers()["b"] == "closed" and pair.served() == {"b": 4, "c": 4}


async def test_a_slow_first_token_moves_to_the_next_node():
    cluster = RoutingCluster(config(first_token_timeout=0.3))
    await cluster.add("e", 0, fake=False)
    await cluster.add("b", 1)
    await cluster.add("c", 1, rtt=1.0)
    async with cluster:
        release = asyncio.Event()
        cluster["b"].fake.script.append(Reply(hold=release))
        _, text, lines, _ = await chat_ndjson(cluster["e"].url, MEDIUM)
        release.set()
    assert text == "Hello from fake"
    [switch] = lines[-1]["harombe"]["fallbacks"]
    assert switch["from_node"] == "b" and "no first token within 0.3s" in switch["reason"]


@pytest.mark.parametrize("how", ["dies", "stalls"])
async def test_mid_stream_failure_is_continued_elsewhere_as_one_answer(how: str):
    cluster = RoutingCluster(config(chunk_timeout=0.3))
    await cluster.add("e", 0, fake=False)
    await cluster.add("b", 1)
    await cluster.add("c", 1, rtt=1.0)
    async with cluster:
        stall = asyncio.Event()
        pieces = ["The answer", " is", " forty", " one"]
        broken = Reply(pieces, die_after=2) if how == "dies" else Reply(pieces, hold=stall, hold_after=2)
        cluster["b"].fake.script.append(broken)
        cluster["c"].fake.script.append(Reply([" forty", "-two."]))
        client = openai.AsyncOpenAI(base_url=cluster["e"].url + "/v1", api_key="unused")
        stream = await client.chat.completions.create(
            model="tier-1", messages=[{"role": "user", "content": MEDIUM}], stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        stall.set()
        continued = cluster["c"].fake.last_messages()
        status, _, lines, _ = await chat_ndjson(cluster["e"].url, MEDIUM)  # route metadata
    assert text == "The answer is forty-two."
    assert continued[-1] == {"role": "assistant", "content": "The answer is"}
    assert continued[:-1] == [{"role": "user", "content": MEDIUM}]
    assert status == 200


async def test_mid_stream_switch_is_recorded_in_the_final_metadata(pair: RoutingCluster):
    pair["b"].fake.script.append(Reply(["Part one,", " part two"], die_after=1))
    pair["c"].fake.script.append(Reply([" part two."]))
    status, text, lines, _ = await chat_ndjson(pair["e"].url, MEDIUM)
    assert status == 200 and text == "Part one, part two."
    meta = lines[-1]["harombe"]
    assert meta["node"] == "c"
    [switch] = meta["fallbacks"]
    assert (switch["from_node"], switch["to_node"], switch["after_chars"]) == ("b", "c", 9)

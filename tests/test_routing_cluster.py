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
from support.cluster_harness import eventually
from support.routing_peers import RoutingCluster

from harombe.settings.routing import RoutingConfig
from sim.fake_openai import Reply

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


async def ask(peer: str | ollama.AsyncClient, prompt: str, model: str = "auto") -> str:
    """One streamed chat through the official ollama client (or a URL for a new one)."""
    client = ollama.AsyncClient(host=peer) if isinstance(peer, str) else peer
    parts = []
    async for part in await client.chat(
        model=model, messages=[{"role": "user", "content": prompt}], stream=True
    ):
        parts.append(part.message.content or "")
    return "".join(parts)


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
    await eventually(lambda: breakers()["t1"] == "half_open")
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
        client = ollama.AsyncClient(host=cluster["e"].url)
        for _ in range(20):
            await ask(client, SIMPLE)
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

    await eventually(lambda: breakers()["b"] == "half_open")
    await ask(url, MEDIUM)  # the probe fails: open again
    assert breakers()["b"] == "open" and pair.served() == {"b": 3, "c": 4}

    b.fake.default = Reply()
    await eventually(lambda: breakers()["b"] == "half_open")
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
        broken = (
            Reply(pieces, die_after=2) if how == "dies" else Reply(pieces, hold=stall, hold_after=2)
        )
        cluster["b"].fake.script.append(broken)
        cluster["c"].fake.script.append(Reply([" forty", "-two."]))
        client = openai.AsyncOpenAI(base_url=cluster["e"].url + "/v1", api_key="unused")
        stream = await client.chat.completions.create(
            model="tier-1", messages=[{"role": "user", "content": MEDIUM}], stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        stall.set()
        continued = cluster["c"].fake.last_messages()
    assert text == "The answer is forty-two."
    assert continued == [
        {"role": "user", "content": MEDIUM},
        {"role": "assistant", "content": "The answer is"},
    ]


async def test_mid_stream_switch_is_recorded_in_the_final_metadata(pair: RoutingCluster):
    pair["b"].fake.script.append(Reply(["Part one,", " part two"], die_after=1))
    pair["c"].fake.script.append(Reply([" part two."]))
    status, text, lines, _ = await chat_ndjson(pair["e"].url, MEDIUM)
    assert status == 200 and text == "Part one, part two."
    meta = lines[-1]["harombe"]
    assert meta["node"] == "c"
    [switch] = meta["fallbacks"]
    assert (switch["from_node"], switch["to_node"], switch["after_chars"]) == ("b", "c", 9)


async def test_a_hop_request_is_served_locally_and_never_forwarded(tiers: RoutingCluster):
    hop = {"X-Harombe-Hop": "some-peer"}
    status, text, lines, _ = await chat_ndjson(tiers["t0"].url, COMPLEX, headers=hop)
    assert status == 200 and text == "Hello from fake"
    assert lines[-1]["harombe"]["node"] == "t0"
    assert tiers.served() == {"t0": 1, "t1": 0, "t2": 0}


async def test_a_forwarded_request_to_a_node_without_backend_errors_back(tiers: RoutingCluster):
    hop = {"X-Harombe-Hop": "some-peer"}
    status, _, lines, _ = await chat_ndjson(tiers["e"].url, SIMPLE, headers=hop)
    assert status == 503 and "no local backend" in lines[0]["error"]
    await tiers["t1"].fake.__aexit__()  # t1's inference server dies
    status, _, lines, _ = await chat_ndjson(tiers["t1"].url, MEDIUM, headers=hop)
    assert status == 502 and "error" in lines[0]
    assert tiers.served() == {"t0": 0, "t1": 0, "t2": 0}


async def test_the_deadline_is_honoured(pair: RoutingCluster):
    never = asyncio.Event()
    pair["b"].fake.default = Reply(hold=never)
    pair["c"].fake.default = Reply(hold=never)
    async with aiohttp.ClientSession() as http:
        body = {"query": MEDIUM, "timeout": 0.3}
        async with http.post(f"{pair['e'].url}/cluster/execute", json=body) as resp:
            status, payload = resp.status, await resp.json()
    assert status == 502 and "0.3s deadline" in payload["error"]
    assert pair.served() == {"b": 1, "c": 0}  # the deadline came before any failover


@pytest.fixture
async def single() -> AsyncIterator[RoutingCluster]:
    """One peer with one slot; waits for a slot at most 0.3 s."""
    cluster = RoutingCluster(config(queue_timeout=0.3, retry_after=7))
    await cluster.add("solo", 0, capacity=1)
    async with cluster:
        yield cluster


async def test_saturation_answers_503_with_retry_after(single: RoutingCluster):
    solo = single["solo"]
    release = asyncio.Event()
    solo.fake.script.append(Reply(hold=release))
    first = asyncio.create_task(chat_ndjson(solo.url, SIMPLE))
    await solo.fake.arrived.wait()
    status, _, lines, headers = await chat_ndjson(solo.url, SIMPLE)
    assert status == 503 and headers["Retry-After"] == "7"
    assert "at capacity" in lines[0]["error"]
    release.set()
    assert (await first)[0] == 200
    assert single.served() == {"solo": 1}


async def test_a_queued_request_is_served_when_a_slot_frees(single: RoutingCluster):
    solo = single["solo"]
    single.config.queue_timeout = 30.0
    release = asyncio.Event()
    solo.fake.script.append(Reply(hold=release))
    first = asyncio.create_task(chat_ndjson(solo.url, SIMPLE))
    await solo.fake.arrived.wait()
    second = asyncio.create_task(chat_ndjson(solo.url, SIMPLE))
    await eventually(lambda: solo.dispatcher.load() == (1, 1))
    release.set()
    assert (await first)[0] == 200 and (await second)[0] == 200
    assert single.served() == {"solo": 2} and solo.dispatcher.load() == (0, 0)


async def test_cluster_execute_answers_in_the_seed_shape(tiers: RoutingCluster):
    async with aiohttp.ClientSession() as http:
        body = {"query": SIMPLE, "context": [{"role": "system", "content": "Be brief."}, "Hi"]}
        async with http.post(f"{tiers['e'].url}/cluster/execute", json=body) as resp:
            assert resp.status == 200
            payload = await resp.json()
        async with http.post(
            f"{tiers['e'].url}/cluster/execute", json={"query": SIMPLE, "prefer_tier": 2}
        ) as resp:
            preferred = await resp.json()
    assert payload["response"] == "Hello from fake"
    assert payload["node"] == "t0" and payload["tier"] == 0 and payload["classified_tier"] == 0
    assert payload["fallbacks"] == [] and payload["timings"]["total_s"] > 0
    assert tiers["t0"].fake.last_messages() == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "user", "content": SIMPLE},
    ]
    assert preferred["node"] == "t2" and preferred["classified_tier"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "query"),
        ({"query": ""}, "query"),
        ({"query": "x", "prefer_tier": 5}, "prefer_tier"),
        ({"query": "x", "timeout": "soon"}, "timeout"),
        ({"query": "x", "context": [{"role": "robot", "content": "x"}]}, "context"),
        ({"query": "x", "speed": "fast"}, "speed"),
    ],
)
async def test_cluster_execute_rejects_bad_input_naming_the_field(
    tiers: RoutingCluster, body: dict[str, Any], field: str
):
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{tiers['e'].url}/cluster/execute", json=body) as resp:
            assert resp.status == 400
            payload = await resp.json()
    assert payload["field"].startswith(field) and field in payload["error"]
    assert tiers.served() == {"t0": 0, "t1": 0, "t2": 0}


async def test_cluster_status_lists_every_node(tiers: RoutingCluster):
    tiers["e"].dispatcher.breaker_board.get("t1").on_failure()  # threshold 1: open
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{tiers['e'].url}/cluster/status") as resp:
            status = await resp.json()
    assert status["node"] == "e"
    nodes = {n["name"]: n for n in status["nodes"]}
    assert set(nodes) == {"e", "t0", "t1", "t2"}
    assert nodes["t1"]["breaker"] == "open" and not nodes["t1"]["available"]
    assert nodes["t0"]["available"] and nodes["t0"]["tier"] == 0
    assert not nodes["e"]["available"]  # routes only
    for key in ("address", "state", "models", "loaded", "load", "active", "capacity", "queue",
                "rtt_ms", "last_update_s", "backend_ok", "version", "hardware"):  # fmt: skip
        assert key in nodes["t0"]


async def test_a_real_model_name_goes_only_to_nodes_serving_it():
    cluster = RoutingCluster(config())
    await cluster.add("small", 0, model="small-model")
    await cluster.add("big", 2, model="big-model")
    async with cluster:
        client = ollama.AsyncClient(host=cluster["small"].url)
        for _ in range(3):
            await ask(client, SIMPLE, model="big-model")
        assert cluster.served() == {"small": 0, "big": 3}
        assert cluster["big"].fake.requests[-1]["model"] == "big-model"
        with pytest.raises(ollama.ResponseError) as err:
            await ask(client, SIMPLE, model="no-such-model")
        assert err.value.status_code == 404
        listed = {m.model for m in (await client.list()).models}
    assert {"small-model", "big-model"} <= listed


async def test_peers_sign_forwarded_requests_and_reject_unsigned_ones():
    cluster = RoutingCluster(config(), keyring=[b"the-cluster-key"])
    await cluster.add("e", 1, fake=False)
    await cluster.add("t0", 0)
    async with cluster:
        url = cluster["t0"].url
        assert await ask(cluster["e"].url, SIMPLE) == "Hello from fake"  # signed hop: accepted
        status, _, lines, _ = await chat_ndjson(url, SIMPLE, headers={"X-Harombe-Hop": "evil"})
        assert status == 401 and "missing signature" in lines[0]["error"]
        from harombe.api.peer_auth import RequestSigner

        body = json.dumps({"model": "auto", "messages": [{"role": "user", "content": SIMPLE}]})
        signer = RequestSigner([b"wrong-key"], sender="evil")
        forged = signer.headers("POST", "/api/chat", body.encode(), "t0")
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{url}/api/chat", data=body, headers=forged) as resp:
                assert resp.status == 401
                assert "bad signature" in (await resp.json())["error"]
        assert cluster.served() == {"t0": 1}
        assert await ask(url, SIMPLE) == "Hello from fake"  # the peer is unharmed


async def test_when_every_node_fails_the_client_gets_one_clear_error(pair: RoutingCluster):
    for name in ("b", "c"):
        pair[name].fake.default = Reply(status=500)
    status, _, lines, _ = await chat_ndjson(pair["e"].url, MEDIUM)
    assert status == 502
    assert "every node tried failed" in lines[0]["error"] and "HTTP 500" in lines[0]["error"]
    assert pair.served() == {"b": 1, "c": 1}


async def test_max_attempts_bounds_the_nodes_tried():
    cluster = RoutingCluster(config(max_attempts=2))
    await cluster.add("e", 1, fake=False)
    for name in ("x", "y", "z"):
        await cluster.add(name, 1)
        cluster[name].fake.default = Reply(status=500)
    async with cluster:
        status, _, lines, _ = await chat_ndjson(cluster["e"].url, MEDIUM)
        assert status == 502 and "gave up after 2 nodes" in lines[0]["error"]
        assert sum(cluster.served().values()) == 2


async def test_strict_fallback_answers_503_instead_of_another_tier():
    cluster = RoutingCluster(config(fallback_strategy="strict"))
    await cluster.add("e", 0, fake=False)
    await cluster.add("t1", 1)
    async with cluster:
        status, _, lines, headers = await chat_ndjson(cluster["e"].url, SIMPLE)
        assert status == 503 and "no usable node for tier 0" in lines[0]["error"]
        assert "Retry-After" in headers and cluster.served() == {"t1": 0}


async def test_a_full_queue_answers_503_at_once():
    cluster = RoutingCluster(config(max_queue=0, queue_timeout=30))
    await cluster.add("solo", 0, capacity=1)
    async with cluster:
        solo = cluster["solo"]
        release = asyncio.Event()
        solo.fake.script.append(Reply(hold=release))
        first = asyncio.create_task(chat_ndjson(solo.url, SIMPLE))
        await solo.fake.arrived.wait()
        status, _, lines, _ = await chat_ndjson(solo.url, SIMPLE)
        assert status == 503 and "already wait" in lines[0]["error"]
        release.set()
        assert (await first)[0] == 200


async def test_a_client_leaving_mid_answer_frees_the_slot_without_blaming_the_node(
    pair: RoutingCluster,
):
    pair["b"].fake.script.append(Reply(["word "] * 5000))
    entry = pair["e"].dispatcher
    body = {"model": "auto", "messages": [{"role": "user", "content": MEDIUM}]}
    async with aiohttp.ClientSession() as http:
        resp = await http.post(f"{pair['e'].url}/api/chat", json=body)
        assert (await resp.content.readline()).startswith(b"{")
        assert entry.in_flight() == {"b": 1}
        resp.close()
    await eventually(lambda: entry.in_flight() == {})
    assert entry.breaker_board.get("b").failures == 0 and entry.breakers()["b"] == "closed"


async def test_tool_calls_cross_peers_intact(tiers: RoutingCluster):
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    tiers["t0"].fake.script.append(Reply([], tool_call=("get_weather", {"city": "Paris"})))
    client = ollama.AsyncClient(host=tiers["e"].url)
    answer = await client.chat(
        model="auto", messages=[{"role": "user", "content": SIMPLE}], tools=[tool], stream=False
    )
    [call] = answer.message.tool_calls
    assert call.function.name == "get_weather" and call.function.arguments == {"city": "Paris"}
    assert tiers["t0"].fake.requests[-1]["tools"][0]["function"]["name"] == "get_weather"


async def test_tool_call_ids_survive_the_hop_between_peers(tiers: RoutingCluster):
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
    tiers["t0"].fake.script.append(Reply([], tool_call=("get_weather", {"city": "Paris"})))
    client = openai.AsyncOpenAI(base_url=f"{tiers['e'].url}/v1", api_key="unused")
    question = {"role": "user", "content": SIMPLE}
    first = await client.chat.completions.create(model="tier-0", messages=[question], tools=[tool])
    [call] = first.choices[0].message.tool_calls
    assert call.id == "call_1"  # the backend's id, through two peers
    await client.chat.completions.create(
        model="tier-0",
        messages=[
            question,
            first.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "18 C"},
        ],
        tools=[tool],
    )
    sent = tiers["t0"].fake.requests[-1]["messages"]
    assert sent[1]["tool_calls"][0]["id"] == "call_1"
    assert sent[2]["tool_call_id"] == "call_1"


async def test_cluster_route_explains_the_decision_without_sending_anything(tiers: RoutingCluster):
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{tiers['e'].url}/cluster/route", json={"query": MEDIUM}) as resp:
            decision = await resp.json()
        await tiers.stop_http("t1")
        tiers["e"].dispatcher.breaker_board.get("t1").on_failure()
        async with http.post(
            f"{tiers['e'].url}/cluster/route", json={"query": SIMPLE, "prefer_tier": 1}
        ) as resp:
            fallback = await resp.json()
    assert decision["node"] == "t1" and decision["classified_tier"] == 1
    assert decision["order"] == ["tier 1", "tier 2", "tier 0"] and decision["reasons"]
    assert fallback["node"] == "t2" and fallback["wanted_tier"] == 1
    assert fallback["classified_tier"] is None and fallback["reasons"] == []
    assert tiers.served() == {"t0": 0, "t1": 0, "t2": 0}

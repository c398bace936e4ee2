"""Context windows and tool calling: what nodes advertise, what routing does with it (unit
checks, then real peers on loopback whose backends report their windows and capabilities)."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import aiohttp
import openai
import pytest
from support.routing_peers import RoutingCluster

from harombe.cluster.record import NodeRecord
from harombe.inference.types import ChatRequest, Message, ModelInfo
from harombe.routing.balancer import Balancer
from harombe.routing.breaker import BreakerBoard
from harombe.routing.fit import (
    Needs,
    PromptTooLargeError,
    advertised,
    check_fits,
    estimate_tokens,
)
from harombe.routing.policy import Group, make_plan
from harombe.routing.route import RouteOptions
from harombe.routing.view import Candidate, StaticView
from harombe.settings.routing import RoutingConfig

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def node(name: str, tier: int = 0, **kw: Any) -> Candidate:
    return Candidate(name=name, address=f"{name}:1", tier=tier, models=["m"], loaded=["m"], **kw)


def balancer() -> Balancer:
    config = RoutingConfig()
    return Balancer(config, BreakerBoard.from_config(config, time.monotonic), random.Random(1))


# --- what a node advertises -------------------------------------------------------------------


def test_advertised_windows_and_tool_models_come_from_model_infos() -> None:
    infos = [
        ModelInfo("a", context_length=8192, capabilities=["completion", "tools"]),
        ModelInfo("b", context_length=None, capabilities=["completion"]),
        ModelInfo("c", context_length=2048),
    ]
    assert advertised(infos) == ({"a": 8192, "c": 2048}, ["a"])


def test_record_carries_windows_and_tools_compactly() -> None:
    plain = NodeRecord("n", "h:1", models=["m"])
    assert "ctx" not in plain.to_wire() and "tool_models" not in plain.to_wire()
    rich = NodeRecord("n", "h:1", models=["m"], ctx={"m": 4096}, tool_models=["m"])
    again = NodeRecord.from_raw(rich.raw())
    assert again.ctx == {"m": 4096} and again.tool_models == ["m"]
    assert NodeRecord.from_raw(plain.raw()).ctx == {}


@pytest.mark.parametrize(
    "bad",
    [{"ctx": {"m": -1}}, {"ctx": {"m": "big"}}, {"ctx": {"m": 2**40}}, {"tool_models": "m"}],
)
def test_record_rejects_malformed_windows(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        NodeRecord.from_wire({"name": "n", "address": "h:1", **bad})


def test_token_estimate_counts_every_message_and_part() -> None:
    messages = [
        Message(role="system", content="x" * 400),
        {"role": "user", "content": [{"type": "text", "text": "y" * 400}, {"type": "image"}]},
        {"role": "user", "content": None},
    ]
    assert estimate_tokens(messages) == 200
    request = ChatRequest(messages=[Message("user", "x" * 400)], tools=TOOLS)
    assert Needs.of(request) == Needs(100 + len(json.dumps(TOOLS)) // 4, tools=True)


# --- refusing up front -----------------------------------------------------------------------


def plan_for(model: str = "tier-0") -> Any:
    return make_plan(model, None, "graceful", lambda: 0)


def test_a_prompt_larger_than_every_window_is_refused_naming_both_sizes() -> None:
    candidates = [node("a", ctx={"m": 2048}), node("b", 1, ctx={"m": 4096})]
    with pytest.raises(PromptTooLargeError) as caught:
        check_fits(plan_for(), candidates, Needs(10_000))
    assert caught.value.status == 400 and not caught.value.retryable
    assert "10,000 tokens" in str(caught.value) and "4,096 tokens" in str(caught.value)
    check_fits(plan_for(), candidates, Needs(4000))  # fits b: no error


def test_an_unknown_window_may_fit_and_other_groups_do_not_count() -> None:
    check_fits(plan_for(), [node("a", ctx={"m": 2048}), node("b")], Needs(10_000))
    strict = make_plan("tier-0", None, "strict", lambda: 0)
    with pytest.raises(PromptTooLargeError):  # b serves tier 1, which a strict plan never uses
        check_fits(strict, [node("a", ctx={"m": 2048}), node("b", 1)], Needs(10_000))


# --- choosing among nodes --------------------------------------------------------------------


def test_nodes_whose_window_is_too_small_are_skipped_and_say_why() -> None:
    view = StaticView([node("small", ctx={"m": 1024}), node("big", ctx={"m": 32768})])
    b = balancer()
    for _ in range(20):
        assert b.choose(view, Group(tier=0), needs=Needs(5000)).candidate.name == "big"
    rows = {r["node"]: r["skipped"] for r in b.assess(view, Group(tier=0), needs=Needs(5000))}
    assert rows == {"small": "context window 1,024 < 5,000 tokens", "big": None}


def test_tools_go_to_nodes_that_call_tools_else_anywhere_with_a_note() -> None:
    view = StaticView([node("plain"), node("tooly", tool_models=["m"])])
    b = balancer()
    for _ in range(20):
        choice = b.choose(view, Group(tier=0), needs=Needs(10, tools=True))
        assert choice.candidate.name == "tooly" and choice.note is None
    only_plain = StaticView([node("plain")])
    choice = b.choose(only_plain, Group(tier=0), needs=Needs(10, tools=True))
    assert choice.candidate.name == "plain" and "calls tools" in choice.note


# --- real peers ------------------------------------------------------------------------------


async def post_chat(url: str, prompt: str, model: str = "tier-0") -> tuple[int, dict[str, Any]]:
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "stream": False}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/api/chat", json=body) as resp:
            return resp.status, await resp.json()


@pytest.fixture
async def windows() -> Any:
    """Entry peer `e` (routes only); tier-0 peers with a small and a large context window."""
    cluster = RoutingCluster(RoutingConfig())
    await cluster.add("e", 1, fake=False)
    await cluster.add("small", 0, n_ctx=1024, rtt=0.001)
    await cluster.add("big", 0, n_ctx=8192, rtt=0.5)
    async with cluster:
        yield cluster


async def test_peers_advertise_what_their_backends_report(windows: RoutingCluster) -> None:
    assert windows["small"].ctx == {"fake-model": 1024}
    assert windows["big"].ctx == {"fake-model": 8192}


async def test_a_long_prompt_goes_only_where_it_fits(windows: RoutingCluster) -> None:
    status, _ = await post_chat(windows["e"].url, "What is 2+2?")
    assert status == 200 and windows.served() == {"small": 1, "big": 0}  # nearer, fits
    long_prompt = "word " * 4000 + "\n\nWhat is the first word?"  # about 5,000 tokens
    for _ in range(3):
        status, body = await post_chat(windows["e"].url, long_prompt)
        assert status == 200 and body["harombe"]["node"] == "big"
    assert windows.served() == {"small": 1, "big": 3}


async def test_a_prompt_too_large_for_every_window_is_refused_unsent(
    windows: RoutingCluster,
) -> None:
    huge = "word " * 8000  # about 10,000 tokens
    status, body = await post_chat(windows["e"].url, huge)
    assert status == 400
    assert "10,000 tokens" in body["error"] and "8,192 tokens" in body["error"]
    assert windows.served() == {"small": 0, "big": 0}
    request = ChatRequest(messages=[Message("user", huge)], model="auto")
    decision = windows["e"].dispatcher.decide(request, RouteOptions())
    assert any(r.startswith("would be refused: prompt too large") for r in decision.reasons)
    client = openai.AsyncOpenAI(base_url=f"{windows['e'].url}/v1", api_key="unused")
    with pytest.raises(openai.BadRequestError, match="8,192 tokens"):
        await client.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": huge}]
        )
    await client.close()


async def test_tools_go_to_the_peer_whose_model_calls_tools() -> None:
    cluster = RoutingCluster(RoutingConfig())
    await cluster.add("e", 1, fake=False)
    await cluster.add("plain", 0, capabilities=["completion"], rtt=0.001)
    await cluster.add("tooly", 0, capabilities=["completion", "tools"], rtt=0.5)
    async with cluster:
        assert cluster["tooly"].tool_models == ["fake-model"]
        client = openai.AsyncOpenAI(base_url=f"{cluster['e'].url}/v1", api_key="unused")
        for _ in range(3):
            await client.chat.completions.create(
                model="tier-0", messages=[{"role": "user", "content": "Weather in Oslo?"}],
                tools=TOOLS,
            )  # fmt: skip
        await client.chat.completions.create(
            model="tier-0", messages=[{"role": "user", "content": "Hi"}]
        )
        await client.close()
        assert cluster.served() == {"plain": 1, "tooly": 3}
        request = ChatRequest(messages=[Message("user", "Weather?")], model="tier-0", tools=TOOLS)
        decision = cluster["e"].dispatcher.decide(request, RouteOptions())
        assert decision.node == "tooly" and not any("tools" in r for r in decision.reasons)


async def test_tools_fall_back_to_a_peer_without_them_with_a_note() -> None:
    cluster = RoutingCluster(RoutingConfig())
    await cluster.add("e", 1, fake=False)
    await cluster.add("plain", 0, capabilities=["completion"])
    async with cluster:
        request = ChatRequest(messages=[Message("user", "Weather?")], model="tier-0", tools=TOOLS)
        decision = cluster["e"].dispatcher.decide(request, RouteOptions())
        assert decision.node == "plain"
        assert any("calls tools" in r for r in decision.reasons)
        client = openai.AsyncOpenAI(base_url=f"{cluster['e'].url}/v1", api_key="unused")
        reply = await client.chat.completions.create(
            model="tier-0", messages=[{"role": "user", "content": "Weather?"}], tools=TOOLS
        )
        await client.close()
        assert reply.choices[0].message.content == "Hello from fake"

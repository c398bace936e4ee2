"""The small-model judge: when it is asked, its cache, its budget and fallbacks (with scripted
answers), then against the real llama.cpp server (the tiny demo model: its choice is random,
but constrained to the schema), through a routing peer, including the timeout path."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from support.routing_peers import RoutingCluster

from harombe.inference.openai_compat import OpenAIBackend
from harombe.inference.types import ChatChunk, ChatRequest
from harombe.routing.classifier import explain
from harombe.routing.judge import SHOWN_EDGE_CHARS, TIER_SCHEMA, Judge, parse_tier, shown_text
from harombe.settings.routing import RoutingConfig

SURE = "What is the capital of Peru?"


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def unsure_prompt() -> str:
    """A prompt the rules are unsure of (score near a cut point), found, not assumed."""
    for text in (
        "Kayak or canoe for slow rivers?",
        "Tell me about the history of tea.",
        "How do tides work?",
        "Give me some tips for a job interview.",
        "What should I pack for a week in Iceland in March?",
        "How do I make sourdough bread?",
        "Explain how vaccines work.",
    ):
        if explain(user(text)).features["unsure"]:
            return text
    raise AssertionError("no unsure prompt among the candidates")


class Scripted:
    """An `ask` that answers with the given text (or never, with `hang`) and counts calls."""

    def __init__(self, answer: str = '{"tier": 2}', hang: bool = False) -> None:
        self.answer, self.hang, self.calls = answer, hang, 0
        self.requests: list[ChatRequest] = []

    async def __call__(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        self.calls += 1
        self.requests.append(request)
        if self.hang:
            await asyncio.Event().wait()
        yield ChatChunk(content=self.answer)
        yield ChatChunk(done=True)


def test_parse_tier_accepts_only_the_schema() -> None:
    assert parse_tier('{"tier": 1}') == 1 and parse_tier(' { "tier" :0}') == 0
    for bad in ('{"tier": 3}', '{"tier": "1"}', '{"tier": true}', "[1]", "tier 1", ""):
        assert parse_tier(bad) is None, bad


def test_the_judge_sees_the_edges_of_a_long_turn() -> None:
    long = "Summarize this:\n" + "x" * 50_000 + "\nWho wrote it?"
    shown = shown_text([{"role": "system", "content": "s"}, *user(long)])
    assert len(shown) < 2 * SHOWN_EDGE_CHARS + 10
    assert shown.startswith("Summarize this:") and shown.endswith("Who wrote it?")


async def test_hybrid_asks_only_when_the_rules_are_unsure_and_caches() -> None:
    ask = Scripted('{"tier": 2}')
    judge = Judge(ask, mode="hybrid")
    assert (await judge.classify(user(SURE))).tier == 0 and ask.calls == 0
    prompt = unsure_prompt()
    first = await judge.classify(user(prompt))
    assert first.tier == 2 and first.features["judge_tier"] == 2 and ask.calls == 1
    assert (await judge.classify(user(prompt))).tier == 2 and ask.calls == 1  # cached
    assert judge.stats.cache_hits == 1 and judge.stats.answered == 1
    [request] = ask.requests
    assert request.format == TIER_SCHEMA and request.model == "tier-0"


async def test_llm_mode_asks_for_every_request_and_context_still_raises() -> None:
    ask = Scripted('{"tier": 0}')
    judge = Judge(ask, mode="llm")
    assert (await judge.classify(user(SURE))).tier == 0 and ask.calls == 1
    long = user("x " * 20_000 + "What is the first letter?")  # about 10,000 tokens
    assert (await judge.classify(long)).tier == 2  # the context rule is not the judge's


async def test_cache_is_bounded() -> None:
    ask = Scripted('{"tier": 1}')
    judge = Judge(ask, mode="llm", cache_size=2)
    for text in ("a?", "b?", "c?", "a?"):
        await judge.classify(user(text))
    assert ask.calls == 4  # "a?" was dropped when "c?" came in


async def test_timeout_and_bad_answers_fall_back_to_the_rules() -> None:
    hanging = Judge(Scripted(hang=True), mode="llm", timeout=0.05)
    result = await hanging.classify(user(SURE))
    assert result.tier == explain(user(SURE)).tier and "judge unavailable" in result.reasons[-1]
    assert hanging.stats.timeouts == 1 and hanging.stats.answered == 0
    garbled = Judge(Scripted("I think tier two"), mode="llm")
    assert (await garbled.classify(user(SURE))).tier == 0
    assert garbled.stats.failures == 1


async def test_the_judge_does_not_swallow_its_callers_cancellation() -> None:
    judge = Judge(Scripted(hang=True), mode="llm", timeout=30)
    task = asyncio.create_task(judge.classify(user(SURE)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# --- the real llama.cpp server --------------------------------------------------------------


async def test_llamacpp_answers_within_the_schema(llama_server) -> None:
    async with aiohttp.ClientSession() as session:
        backend = OpenAIBackend(llama_server.base_url, session=session)
        judge = Judge(backend.chat, mode="llm", timeout=30)
        prompts = ["Hi there", "Prove Fermat's little theorem.", "Write a haiku.", "2+2?"]
        tiers = [await judge.task_tier(p) for p in prompts]
    assert all(t in (0, 1, 2) for t in tiers), tiers
    assert judge.stats.answered == 4 and judge.stats.failures == 0


async def chat(url: str, prompt: str) -> dict:
    body = {"model": "auto", "messages": user(prompt), "stream": False,
            "options": {"num_predict": 4, "temperature": 1.0, "seed": 1}}  # fmt: skip
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/api/chat", json=body) as resp:
            assert resp.status == 200, await resp.text()
            return json.loads(await resp.read())


async def test_a_routing_peer_asks_its_llamacpp_judge(llama_server) -> None:
    cluster = RoutingCluster(RoutingConfig(classifier="llm", judge_timeout=10))
    await cluster.add("llama", 0, model=llama_server.model, backend_url=llama_server.base_url)
    async with cluster:
        reply = await chat(cluster["llama"].url, "Prove that 17 is prime.")
        judge = cluster["llama"].dispatcher.judge
        assert judge is not None
    assert judge.stats.answered == 1 and judge.stats.failures == 0
    assert reply["harombe"]["classified_tier"] in (0, 1, 2)


async def test_a_judge_past_its_budget_leaves_the_rules_to_decide(llama_server) -> None:
    cluster = RoutingCluster(RoutingConfig(classifier="llm", judge_timeout=0.001))
    await cluster.add("llama", 0, model=llama_server.model, backend_url=llama_server.base_url)
    async with cluster:
        reply = await chat(cluster["llama"].url, "Prove that 17 is prime.")
        judge = cluster["llama"].dispatcher.judge
    assert judge.stats.timeouts == 1 and judge.stats.answered == 0
    assert reply["harombe"]["classified_tier"] == 2  # the rules' tier: a proof
    assert reply["harombe"]["node"] == "llama"

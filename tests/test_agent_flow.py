"""Agent turns through real peers on loopback, each with a scripted OpenAI-compatible model
(the exact wire format, tool_calls included): steps across tiers, confirmations, limits,
malformed calls, conversations that outlive the daemon and are reached from another peer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support.agent_support import agent_chat, of_type, searxng_app, serve
from support.cli_support import cluster, node_config, url_of

from harombe.daemon import Node
from sim.fake_openai import FakeOpenAI, Reply

TASK = "Search for recent papers on mixture-of-experts routing and analyse the trends in their results"


def agent_config(name: str, tier: int, fake: FakeOpenAI, tmp: Path, **agent: Any):
    return node_config(
        name,
        tier,
        backend={"kind": "openai", "url": fake.url, "model": fake.model},
        agent={"data_dir": str(tmp / name), "workspace": str(tmp / "ws"), **agent},
    )


def call(name: str, **arguments: Any) -> Reply:
    return Reply(pieces=[], tool_call=(name, arguments))


@pytest.fixture
async def models() -> AsyncIterator[tuple[FakeOpenAI, FakeOpenAI]]:
    async with FakeOpenAI("small-model") as small, FakeOpenAI("big-model") as big:
        yield small, big


async def test_multi_step_tool_use_across_tiers(models, tmp_path):
    small, big = models
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "notes.txt").write_text("2024: 3 papers; 2025: 9 papers\n")
    results = [{"url": "https://arxiv.org/abs/2501.1", "title": "MoE routing survey",
                "content": "Routing for mixture-of-experts."}]  # fmt: skip
    queries: list[str] = []
    small.script.extend(
        [
            call("web_search", query="mixture-of-experts routing 2025"),
            call("read_file", path="notes.txt"),
            Reply(pieces=["Papers are rising."]),
        ]
    )
    big.script.append(Reply(pieces=["Trend", ": three times more papers in 2025."]))
    async with serve(searxng_app(results, queries)) as search_url:
        fast = agent_config("fast", 0, small, tmp_path, tool_tier=0, search_url=search_url)
        balanced = agent_config("balanced", 1, big, tmp_path)
        async with cluster(fast, balanced) as nodes:
            events = await agent_chat(url_of(nodes[0]), {"message": TASK})

    assert [e["type"] for e in events] == [
        "step", "tool_call", "tool_result",
        "step", "tool_call", "tool_result",
        "step",
        "step", "token", "token",
        "answer",
    ]  # fmt: skip
    steps = of_type(events, "step")
    assert [(s["step"], s["node"], s["tier"], s["model"], s["purpose"]) for s in steps] == [
        (1, "fast", 0, "small-model", "tools"),
        (2, "fast", 0, "small-model", "tools"),
        (3, "fast", 0, "small-model", "tools"),
        (4, "balanced", 1, "big-model", "answer"),
    ]
    calls = of_type(events, "tool_call")
    assert [(c["name"], c["arguments"]) for c in calls] == [
        ("web_search", {"query": "mixture-of-experts routing 2025"}),
        ("read_file", {"path": "notes.txt"}),
    ]
    results_seen = of_type(events, "tool_result")
    assert all(r["ok"] for r in results_seen)
    assert "MoE routing survey" in results_seen[0]["output"]
    assert results_seen[1]["output"] == "2024: 3 papers; 2025: 9 papers\n"
    assert queries == ["mixture-of-experts routing 2025"]
    answer = events[-1]
    assert answer["content"] == "Trend: three times more papers in 2025."
    assert answer["conversation"].endswith("@fast")
    # The small model was offered the tools; the big one got the gathered results, no tools.
    offered = [t["function"]["name"] for t in small.requests[0]["tools"]]
    assert {"read_file", "list_dir", "write_file", "search_files", "web_fetch", "web_search"} <= set(
        offered
    )
    assert small.requests[1]["messages"][-1]["role"] == "tool"
    assert "tools" not in big.requests[0]
    final_prompt = big.requests[0]["messages"][-1]["content"]
    assert TASK in final_prompt and "2025: 9 papers" in final_prompt

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
from support.cli_support import cluster, node_config, poll, url_of
from support.fake_ollama import Script

from sim.fake_openai import FakeOpenAI, Reply

TASK = (
    "Search for recent papers on mixture-of-experts routing and analyse the trends in their results"
)


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
    assert {
        "read_file",
        "list_dir",
        "write_file",
        "search_files",
        "web_fetch",
        "web_search",
    } <= set(offered)
    assert small.requests[1]["messages"][-1]["role"] == "tool"
    assert "tools" not in big.requests[0]
    final_prompt = big.requests[0]["messages"][-1]["content"]
    assert TASK in final_prompt and "2025: 9 papers" in final_prompt


async def test_shell_needs_confirmation(models, tmp_path):
    small, _ = models
    cfg = agent_config("solo", 0, small, tmp_path, confirm_timeout=0.5)
    async with cluster(cfg) as nodes:
        url = url_of(nodes[0])
        workspace = tmp_path / "ws"
        for answer in (True, False, None):  # allowed, denied, never answered (timeout)
            small.script.extend([call("shell", command="echo ran > out.txt; cat out.txt"),
                                 Reply(pieces=["done"])])  # fmt: skip
            events = await agent_chat(url, {"message": "make out.txt"}, confirm=answer)
            confirm = of_type(events, "confirm")
            assert len(confirm) == 1 and confirm[0]["name"] == "shell"
            assert confirm[0]["id"].endswith("@solo")
            result = of_type(events, "tool_result")[0]
            if answer:
                assert result["ok"] and result["output"] == "exit status 0\nran\n"
                assert (workspace / "out.txt").read_text() == "ran\n"
                (workspace / "out.txt").unlink()
            else:
                assert not result["ok"] and result["output"].startswith("denied")
                assert not (workspace / "out.txt").exists()
            assert events[-1]["type"] == "answer"
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{url}/agent/confirm/{confirm[0]['id']}", json={"allow": True}
            ) as r:
                assert r.status == 404  # nothing waits any more


async def test_shell_off_is_not_offered_and_allow_runs_unasked(models, tmp_path):
    small, _ = models
    async with cluster(agent_config("off", 0, small, tmp_path, shell="off")) as nodes:
        small.script.append(Reply(pieces=["no shell here"]))
        await agent_chat(url_of(nodes[0]), {"message": "hi"})
        assert "shell" not in [t["function"]["name"] for t in small.requests[-1]["tools"]]
        async with aiohttp.ClientSession() as http:
            body = {"message": "x", "tools": ["shell"]}
            async with http.post(f"{url_of(nodes[0])}/agent/chat", json=body) as resp:
                assert resp.status == 400 and "unknown tools: shell" in (await resp.json())["error"]
    async with cluster(agent_config("allow", 0, small, tmp_path, shell="allow")) as nodes:
        small.script.extend([call("shell", command="echo hi"), Reply(pieces=["ok"])])
        events = await agent_chat(url_of(nodes[0]), {"message": "say hi", "tools": ["shell"]})
        assert not of_type(events, "confirm")
        assert of_type(events, "tool_result")[0]["output"] == "exit status 0\nhi\n"
        assert [t["function"]["name"] for t in small.requests[-2]["tools"]] == ["shell"]


async def test_step_limit_and_repeated_call_stop(models, tmp_path):
    small, _ = models
    async with cluster(agent_config("solo", 0, small, tmp_path, max_steps=3)) as nodes:
        url = url_of(nodes[0])
        small.script.extend([call("list_dir", path="."), call("search_files", pattern="a"),
                             call("list_dir", path="sub")])  # fmt: skip
        events = await agent_chat(url, {"message": "look around"})
        assert len(of_type(events, "step")) == 3 and len(of_type(events, "tool_result")) == 3
        assert events[-1] == {
            "type": "error",
            "message": "no answer after 3 model calls (max_steps)",
            "conversation": events[-1]["conversation"],
        }
        small.script.extend([call("list_dir", path="."), Reply(pieces=["x"])])
        limited = await agent_chat(url, {"message": "look", "max_steps": 1})
        assert len(of_type(limited, "step")) == 1 and limited[-1]["type"] == "error"
        small.script.clear()

        small.script.extend([call("list_dir", path="."), call("list_dir", path="."),
                             Reply(pieces=["Here is what I found."])])  # fmt: skip
        events = await agent_chat(url, {"message": "look once"})
        assert [e["name"] for e in of_type(events, "tool_call")] == ["list_dir"]  # run once
        steps = of_type(events, "step")
        assert [s["purpose"] for s in steps] == ["tools", "tools", "answer"]
        assert "tools" not in small.requests[-1]
        assert events[-1]["type"] == "answer" and events[-1]["stopped"] == "repeated_call"
        assert events[-1]["content"] == "Here is what I found."


async def test_malformed_call_is_retried_one_tier_up(models, tmp_path):
    small, big = models
    small.script.extend([call("delete_everything", path="/"), Reply(pieces=["It says hi."])])
    big.script.append(call("read_file", path="notes.txt"))
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "notes.txt").write_text("hi")
    fast = agent_config("fast", 0, small, tmp_path, tool_tier=0)
    balanced = agent_config("balanced", 1, big, tmp_path)
    async with cluster(fast, balanced) as nodes:
        events = await agent_chat(url_of(nodes[0]), {"message": "What is in notes.txt?"})
        steps = of_type(events, "step")
        assert [(s["node"], s["tier"], s["escalated_from"]) for s in steps[:2]] == [
            ("fast", 0, None),
            ("balanced", 1, 0),
        ]
        assert "no tool 'delete_everything'" in steps[1]["reason"]
        assert [c["name"] for c in of_type(events, "tool_call")] == ["read_file"]
        assert steps[2]["node"] == "fast"  # the next step is back on the tool tier
        assert events[-1]["type"] == "answer" and events[-1]["content"] == "It says hi."
        repair = big.requests[0]["messages"][-1]["content"]
        assert repair.startswith("Your last reply was not a valid tool call")

        small.script.append(call("read_file", wrong="x"))
        big.script.append(call("read_file"))
        events = await agent_chat(url_of(nodes[0]), {"message": "What is in notes.txt?"})
        assert [e["type"] for e in events] == ["step", "step", "error"]
        assert "malformed tool call" in events[-1]["message"]
        assert not of_type(events, "tool_call")


async def test_text_react_format_with_one_repair(models, tmp_path):
    small, _ = models
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "notes.txt").write_text("forty-two")
    small.script.extend(
        [
            Reply(pieces=["I think I should read it."]),  # neither form: repaired
            Reply(pieces=["Action: read_file\n", 'Action Input: {"path": "notes.txt"}']),
            Reply(pieces=["Final Answer: ", "It says forty-two."]),
        ]
    )
    cfg = agent_config("solo", 2, small, tmp_path, tool_format="react")
    async with cluster(cfg) as nodes:
        events = await agent_chat(url_of(nodes[0]), {"message": "What is in notes.txt?"})
    steps = of_type(events, "step")
    assert [(s["format"], s["escalated_from"]) for s in steps] == [
        ("react", None), ("react", 2), ("react", None)
    ]  # fmt: skip
    assert of_type(events, "tool_result")[0]["output"] == "forty-two"
    assert events[-1]["content"] == "It says forty-two."
    first = small.requests[0]
    assert "tools" not in first and "Action Input:" in first["messages"][0]["content"]
    assert small.requests[2]["messages"][-1] == {
        "role": "user",
        "content": "Observation: forty-two",
    }


async def test_native_tool_calls_through_an_ollama_backend(fake_ollama, tmp_path):
    """The same loop over Ollama's wire: NDJSON, tool calls without ids, tool results by name."""
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "notes.txt").write_text("from ollama")
    fake_ollama.queue.extend(
        [
            Script(text="", tool_calls=[{"name": "read_file", "arguments": {"path": "notes.txt"}}]),
            Script(text="The note says: from ollama."),
        ]
    )
    cfg = node_config(
        "ollie",
        backend={"kind": "ollama", "url": fake_ollama.url, "model": "llama3.2:latest"},
        agent={"data_dir": str(tmp_path), "workspace": str(tmp_path / "ws")},
    )
    async with cluster(cfg) as (node,):
        events = await agent_chat(url_of(node), {"message": "What is in notes.txt?"})
    assert [e["type"] for e in events] == [
        "step", "tool_call", "tool_result", "step", "token", "answer"
    ]  # fmt: skip
    assert events[0]["model"] == "llama3.2:latest" and events[0]["node"] == "ollie"
    assert events[2]["ok"] and events[2]["output"] == "from ollama"
    assert events[-1]["content"] == "The note says: from ollama."
    chats = [body for path, body in fake_ollama.requests if path == "/api/chat"]
    assert "read_file" in [t["function"]["name"] for t in chats[0]["tools"]]
    sent = chats[1]["messages"]
    assert sent[-2]["tool_calls"][0]["function"] == {
        "name": "read_file", "arguments": {"path": "notes.txt"}
    }  # fmt: skip
    assert sent[-1] == {"role": "tool", "content": "from ollama", "tool_name": "read_file"}


async def test_a_model_refusing_tools_gets_the_text_format(models, tmp_path):
    small, _ = models
    small.script.extend(
        [
            Reply(status=400),  # as a server whose model has no tool calling answers
            Reply(pieces=['Action: list_dir\nAction Input: {"path": "."}']),
            Reply(pieces=["Final Answer: empty"]),
        ]
    )
    async with cluster(agent_config("old", 0, small, tmp_path)) as nodes:
        events = await agent_chat(url_of(nodes[0]), {"message": "list"})
    assert [s["format"] for s in of_type(events, "step")] == ["react", "react"]
    assert of_type(events, "tool_call")[0]["name"] == "list_dir"
    assert events[-1]["content"] == "empty"
    assert "tools" in small.requests[0] and "tools" not in small.requests[1]


async def test_context_beyond_every_window_is_trimmed_by_the_rule(tmp_path):
    """The node advertises a 500-token window; a follow-up whose history outgrows it is
    trimmed (the old tool output first) and sent again, instead of failing."""
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "big.txt").write_text("b" * 1000)
    async with FakeOpenAI("small-window", n_ctx=500) as small:
        small.script.extend([call("read_file", path="big.txt"), Reply(pieces=["read it"]),
                             Reply(pieces=["still here"])])  # fmt: skip
        async with cluster(agent_config("tiny", 0, small, tmp_path)) as (node,):
            url = url_of(node)
            await poll(lambda: node.membership.get("tiny").record.ctx, "the window in gossip")
            first = await agent_chat(url, {"message": "read big.txt", "tools": ["read_file"]})
            assert first[-1]["type"] == "answer"
            assert small.requests[-1]["messages"][-1]["content"] == "b" * 1000  # fitted whole
            follow = {"message": "x" * 800, "tools": ["read_file"],
                      "conversation": first[-1]["conversation"]}  # fmt: skip
            events = await agent_chat(url, follow)
    assert events[-1]["type"] == "answer" and events[-1]["content"] == "still here"
    sent = [m["content"] for m in small.requests[-1]["messages"]]
    assert "[tool output trimmed: 1000 characters]" in sent and "b" * 1000 not in sent
    assert sent[-1] == "x" * 800 and "read big.txt" in sent  # the rest kept whole

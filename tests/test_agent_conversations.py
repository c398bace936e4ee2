"""Conversations that outlive the daemon and answer at every peer; tools run on the peer that
shares them; the agent API's refusals. Real peers on loopback, real SQLite, a signed cluster."""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support.agent_support import agent_chat, of_type
from support.cli_support import cluster, node_config, poll, url_of

from harombe.daemon import Node
from sim.fake_openai import FakeOpenAI, Reply

KEY = {"cluster_key": "agent-test-cluster-key"}
MCP_SERVER = """
from mcp.server.mcpserver import MCPServer

server = MCPServer("lab")


@server.tool()
def add(a: int, b: int) -> str:
    \"\"\"Add two numbers on the lab machine.\"\"\"
    return str(a + b)


server.run("stdio")
"""


def peer(name: str, tmp: Path, fake: FakeOpenAI | None, **agent: Any):
    backend = {"kind": "openai", "url": fake.url, "model": fake.model} if fake else {}
    return node_config(
        name,
        0,
        backend=backend,
        security=KEY,
        agent={"data_dir": str(tmp / name), "workspace": str(tmp / f"ws-{name}"), **agent},
    )


@pytest.fixture
async def model() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI("model") as fake:
        yield fake


async def get(url: str, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(url + path) as resp:
        return resp.status, await resp.json()


async def test_a_conversation_survives_a_restart(model, tmp_path):
    cfg = peer("keeper", tmp_path, model)
    model.script.append(Reply(pieces=["Nice to meet you, Ada."]))
    async with Node(cfg) as node:
        first = await agent_chat(url_of(node), {"message": "My name is Ada."})
    conversation = first[-1]["conversation"]
    assert conversation.endswith("@keeper")

    model.script.append(Reply(pieces=["You are Ada."]))
    async with Node(cfg) as node:
        url = url_of(node)
        status, listed = await get(url, "/conversations")
        assert status == 200
        assert [(c["id"], c["title"], c["turns"]) for c in listed["conversations"]] == [
            (conversation, "My name is Ada.", 1)
        ]
        again = await agent_chat(url, {"message": "Who am I?", "conversation": conversation})
        assert again[-1] == {"type": "answer", "content": "You are Ada.",
                             "conversation": conversation, "stopped": None}  # fmt: skip
        sent = [(m["role"], m["content"]) for m in model.requests[-1]["messages"][1:]]
        assert sent == [
            ("user", "My name is Ada."),
            ("assistant", "Nice to meet you, Ada."),
            ("user", "Who am I?"),
        ]
        status, stored = await get(url, f"/conversations/{conversation}")
    assert status == 200
    assert [m["content"] for m in stored["messages"]] == [c for _, c in sent] + ["You are Ada."]
    assert len(stored["turns"]) == 2
    step = stored["turns"][1]["steps"][0]
    assert (step["node"], step["tier"], step["model"]) == ("keeper", 0, "model")
    assert step["timings"]["total_s"] is not None and step["fallbacks"] == []


async def test_any_peer_reaches_the_owner(model, tmp_path):
    model.script.extend([Reply(pieces=["First."]), Reply(pieces=["Second."])])
    async with cluster(peer("owner", tmp_path, model), peer("other", tmp_path, None)) as nodes:
        owner, other = (url_of(n) for n in nodes)
        first = await agent_chat(owner, {"message": "Remember 7."})
        conversation = first[-1]["conversation"]
        events = await agent_chat(other, {"message": "What number?", "conversation": conversation})
        assert events[-1]["content"] == "Second." and events[-1]["conversation"] == conversation
        status, seen = await get(other, f"/conversations/{conversation}")
        assert status == 200 and len(seen["turns"]) == 2
        assert (await get(other, "/conversations"))[1]["conversations"] == []  # owns none
        async with aiohttp.ClientSession() as http:
            async with http.delete(f"{other}/conversations/{conversation}") as resp:
                assert resp.status == 200
        assert (await get(owner, f"/conversations/{conversation}"))[0] == 404
        status, body = await get(other, "/conversations/0123456789abcdef@nobody")
        assert status == 503 and "nobody" in body["error"]


async def test_a_tool_runs_on_the_peer_that_shares_it(model, tmp_path):
    script = tmp_path / "lab_server.py"
    script.write_text(MCP_SERVER)
    lab = peer("lab", tmp_path, None, shared_tools=["lab_add", "shell"], shell="allow",
               mcp_servers={"lab": {"command": sys.executable, "args": [str(script)]}})  # fmt: skip
    desk = peer("desk", tmp_path, model)
    model.script.extend([Reply(pieces=[], tool_call=("lab_add", {"a": 2, "b": 3})),
                         Reply(pieces=["2 + 3 = 5"])])  # fmt: skip
    async with cluster(desk, lab) as nodes:
        desk_node, lab_node = nodes
        assert lab_node.agent and lab_node.agent.shared_tools() == ["lab_add"]  # never shell
        await poll(lambda: "lab_add" in desk_node.agent.known_tools(), "desk to learn lab_add")
        events = await agent_chat(url_of(desk_node), {"message": "2+3?", "tools": ["lab_add"]})
        call = of_type(events, "tool_call")[0]
        assert (call["name"], call["node"]) == ("lab_add", "lab")
        assert of_type(events, "tool_result")[0] == {
            "type": "tool_result", "id": call["id"], "ok": True, "output": "5"
        }  # fmt: skip
        assert events[-1]["content"] == "2 + 3 = 5"
        async with aiohttp.ClientSession() as http:
            body = {"name": "lab_add", "arguments": {"a": 1, "b": 1}}
            lab_url = url_of(lab_node)
            async with http.post(f"{lab_url}/cluster/agent/tool", json=body) as resp:
                assert resp.status == 403  # a client, not a peer
            forged = {"X-Harombe-Hop": "desk"}
            async with http.post(f"{lab_url}/cluster/agent/tool", json=body, headers=forged) as r:
                assert r.status == 401  # a peer's header without the cluster key's signature


async def test_agent_api_refuses_bad_requests(model, tmp_path):
    async with Node(peer("solo", tmp_path, model, max_message_chars=50)) as node:
        url = url_of(node)
        async with aiohttp.ClientSession() as http:
            for body, status, text in (
                ({}, 400, "message"),
                ({"message": ""}, 400, "message"),
                ({"message": "hi", "max_steps": 0}, 400, "max_steps"),
                ({"message": "hi", "prefer_tier": 5}, 400, "prefer_tier"),
                ({"message": "hi", "tools": ["nope"]}, 400, "unknown tools: nope"),
                ({"message": "hi", "conversation": "nope"}, 400, "not a conversation id"),
                ({"message": "hi", "conversation": "0123456789abcdef@solo"}, 404, "no conv"),
                ({"message": "x" * 51}, 413, "longer than 50"),
            ):
                async with http.post(f"{url}/agent/chat", json=body) as resp:
                    assert resp.status == status, body
                    assert text in (await resp.json())["error"]
            async with http.post(f"{url}/agent/chat", data=b"{not json") as resp:
                assert resp.status == 400
            async with http.post(f"{url}/agent/confirm/bogus", json={"allow": True}) as resp:
                assert resp.status == 400
            assert (await get(url, "/conversations"))[1]["conversations"] == []
            model.script.append(Reply(pieces=["Hi!"]))
            async with http.post(f"{url}/agent/chat", json={"message": "hi", "stream": False}) as r:
                whole = await r.json()
        assert whole["answer"] == "Hi!" and whole["conversation"].endswith("@solo")
        assert [e["type"] for e in whole["events"]] == ["step", "token", "answer"]


async def test_a_stalled_body_for_another_peers_id_gets_408_not_a_forward(model, tmp_path):
    """A confirmation for a peer's id is forwarded with its body: a body that stops half way is
    cut after `limits.body_timeout`, like every other body this peer reads."""
    entry = peer("a", tmp_path, model)
    entry.limits.body_timeout = 0.5
    async with cluster(entry, peer("b", tmp_path, model)) as (a, _):
        host, port = a.address.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            b"POST /agent/confirm/0123456789abcdef@b HTTP/1.1\r\nHost: x\r\n"
            b'Content-Type: application/json\r\nContent-Length: 20\r\n\r\n{"allow"'
        )
        async with asyncio.timeout(10):
            status_line = await reader.readline()
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 408")


async def test_forwarding_to_the_owner_over_tls(model, tmp_path):
    from support.tls_certs import TestCA

    ca = TestCA(tmp_path / "ca")

    def tls_peer(name: str, fake: FakeOpenAI | None):
        cfg = peer(name, tmp_path, fake)
        return cfg.model_copy(update={"tls": type(cfg.tls).model_validate(ca.issue(name).tls())})

    model.script.extend([Reply(pieces=["One."]), Reply(pieces=["Two."])])
    async with cluster(tls_peer("owner", model), tls_peer("other", None)) as (owner, other):
        context = ssl.create_default_context(cafile=ca.ca_path)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as http:
            ask = {"message": "first"}
            async with http.post(f"https://{owner.address}/agent/chat", json=ask) as resp:
                lines = [json.loads(line) async for line in resp.content if line.strip()]
            conversation = lines[-1]["conversation"]
            again = {"message": "second", "conversation": conversation}
            async with http.post(f"https://{other.address}/agent/chat", json=again) as resp:
                lines = [json.loads(line) async for line in resp.content if line.strip()]
        assert lines[-1]["content"] == "Two." and lines[-1]["conversation"] == conversation


async def test_conversations_and_running_turns_are_bounded(model, tmp_path):
    release = asyncio.Event()
    model.script.extend([Reply(pieces=["one"]), Reply(pieces=["held"], hold=release)])
    cfg = peer("small", tmp_path, model, max_conversations=1, max_active_turns=1)
    async with Node(cfg) as node:
        url = url_of(node)
        first = await agent_chat(url, {"message": "one"})
        conversation = first[-1]["conversation"]
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{url}/agent/chat", json={"message": "two"}) as resp:
                assert resp.status == 507 and "max_conversations" in (await resp.json())["error"]
            held = asyncio.create_task(
                agent_chat(url, {"message": "three", "conversation": conversation})
            )
            await model.arrived.wait()
            await poll(lambda: len(model.requests) == 2, "the held turn to reach the model")
            body = {"message": "four", "conversation": conversation}
            async with http.post(f"{url}/agent/chat", json=body) as resp:
                assert resp.status == 503 and "max_active_turns" in (await resp.json())["error"]
            release.set()
            assert (await held)[-1]["content"] == "held"
        assert (await get(url, "/conversations"))[1]["conversations"][0]["turns"] == 2


async def test_a_client_leaving_mid_turn_leaves_a_consistent_turn(model, tmp_path):
    model.script.append(Reply(pieces=[], tool_call=("shell", {"command": "echo hi"})))
    async with Node(peer("solo", tmp_path, model)) as node:
        url = url_of(node)
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{url}/agent/chat", json={"message": "run it"}) as resp:
                async for line in resp.content:
                    if json.loads(line)["type"] == "confirm":
                        break  # and leave without answering

        async def stored():
            listed = (await get(url, "/conversations"))[1]["conversations"]
            return listed and listed[0]["turns"] == 1 and listed[0]["id"]

        await poll(stored, "the turn to be stored")
        conversation = await stored()
        messages = (await get(url, f"/conversations/{conversation}"))[1]["messages"]
        assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
        assert messages[2]["content"] == "not run: the turn ended first"
        assert messages[2]["tool_call_id"] == messages[1]["tool_calls"][0]["id"]

"""Cancellation: a client that leaves cancels the backend request, locally and across a hop, and
nothing is re-sent; a serving peer the membership declares dead (frozen with SIGSTOP: its
sockets stay open, so only the membership can tell) stops holding the stream: the answer
continues on another node at once, far below the chunk timeout."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import yaml
from support.cli_support import Harombed, cluster, node_config, poll, url_of
from support.routing_peers import RoutingCluster

from harombe.daemon import Node
from harombe.routing.config import RoutingConfig
from harombe.routing.routed import Watchdog
from sim.fake_openai import FakeOpenAI, Reply

CANCEL_DEADLINE_S = 1.0  # the requirement: the backend request is cancelled within a second
WAIT_FOR_CUT_S = 5.0  # a wait whose deadline has passed is cut long before this
QUESTION = [{"role": "user", "content": "Tell me a long story."}]


@pytest.fixture
async def pair() -> AsyncIterator[RoutingCluster]:
    cluster = RoutingCluster(RoutingConfig(first_token_timeout=30.0, chunk_timeout=30.0))
    await cluster.add("e", 1, fake=False)
    await cluster.add("b", 1)
    async with cluster:
        yield cluster


async def leave_after(url: str, lines: int, ready: asyncio.Event | None = None) -> None:
    """Stream a chat from `url`, read `lines` lines (0: wait for `ready`), then hang up."""
    body = {"model": "auto", "messages": QUESTION}
    async with aiohttp.ClientSession() as http:
        request = http.post(f"{url}/api/chat", json=body)
        if lines == 0:
            assert ready is not None
            task = asyncio.ensure_future(request.__aenter__())
            await ready.wait()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return
        async with request as resp:
            for _ in range(lines):
                await resp.content.readline()


@pytest.mark.parametrize("where", ["before the first token", "mid-answer"])
async def test_a_client_leaving_cancels_the_backend_request_across_the_hop(pair, where):
    fake = pair["b"].fake
    never = asyncio.Event()
    if where == "before the first token":
        fake.default = Reply(hold=never)
        await leave_after(pair["e"].url, 0, fake.arrived)
    else:
        fake.default = Reply(pieces=["a", "b", "c"], hold=never, hold_after=2)
        await leave_after(pair["e"].url, 1)
    for name in ("e", "b"):  # the coordinator's and the serving peer's backend requests end
        dispatcher = pair[name].dispatcher
        await poll(lambda d=dispatcher: not d.in_flight(), f"{name} to drop it", CANCEL_DEADLINE_S)
    await asyncio.sleep(0)  # let a (wrong) retry be sent
    assert len(fake.requests) == 1  # never re-sent elsewhere
    assert all(state == "closed" for state in pair["e"].dispatcher.breakers().values())


def daemon_config(path: Path, **routing: float) -> Path:
    """A config file for a `harombed` on loopback with the fast `local` membership timings."""
    data = {"cluster": {"mdns": False, "membership": {"profile": "local"}}, "routing": routing}
    path.write_text(yaml.safe_dump(data))
    return path


async def test_a_frozen_serving_peer_declared_dead_hands_the_answer_on(tmp_path):
    timeouts = {"first_token_timeout": 60.0, "chunk_timeout": 60.0}
    stalls = FakeOpenAI(default=Reply(pieces=["one", " two", " three"], hold=asyncio.Event(),
                                      hold_after=2))  # fmt: skip
    healthy = FakeOpenAI(default=Reply(pieces=[" three", " four"]))
    async with stalls, healthy:
        entry_cfg = node_config("e", 1, routing=timeouts)
        other_cfg = node_config("c", 2, backend={"kind": "openai", "url": healthy.url})
        async with cluster(entry_cfg, other_cfg) as (entry, _):
            frozen = Harombed(
                tmp_path, "b",
                "--config", str(daemon_config(tmp_path / "b.yaml", **timeouts)),
                "--tier", "1", "--seed", entry.address,
                "--backend", "openai", "--backend-url", stalls.url, "--model", "fake-model",
            )  # fmt: skip
            frozen.start()
            try:
                await frozen.wait_healthy()
                await poll(lambda: serving(entry, "b"), "e to see b serve")
                answer = await stream_while(url_of(entry), lambda: freeze(frozen, stalls))
            finally:
                if frozen.process is not None:
                    frozen.process.send_signal(signal.SIGCONT)
                frozen.stop()
    text = "".join((line.get("message") or {}).get("content", "") for line in answer)
    assert text == "one two three four"
    [switch] = answer[-1]["harombe"]["fallbacks"]
    assert switch["from_node"] == "b" and switch["to_node"] == "c"
    assert "declared dead" in switch["reason"]


def serving(node: Node, name: str) -> bool:
    return any(c.name == name and c.backend_ok for c in node.dispatcher.view.candidates())


def freeze(daemon: Harombed, backend: FakeOpenAI) -> bool:
    """SIGSTOP `daemon` once its backend has sent two pieces (True when done)."""
    if len(backend.requests) != 1:
        return False
    assert daemon.process is not None
    os.kill(daemon.process.pid, signal.SIGSTOP)
    return True


async def stream_while(url: str, after_two_lines) -> list[dict]:  # type: ignore[no-untyped-def]
    """The whole NDJSON answer of a tier-1 chat; `after_two_lines` runs once two have come. The
    wait is bounded well below the 60 s chunk timeout: only the membership can end it."""
    body = {"model": "tier-1", "messages": QUESTION}
    lines: list[dict] = []
    async with asyncio.timeout(20), aiohttp.ClientSession() as http:
        async with http.post(f"{url}/api/chat", json=body) as resp:
            assert resp.status == 200, await resp.text()
            async for raw in resp.content:
                if raw.strip():
                    lines.append(json.loads(raw))
                if len(lines) == 2:
                    assert after_two_lines()
    return lines


def test_a_watchdog_rearmed_for_a_deadline_already_past_on_uvloop() -> None:
    """uvloop's `call_at` for a deadline already reached returns a handle without `when()`; a
    second wait that must end sooner re-arms the one timer without needing it, and the wait is
    still cut."""
    uvloop = pytest.importorskip("uvloop")

    async def wait_past_deadlines() -> bool:
        task = asyncio.current_task()
        dog = Watchdog(task)
        now = asyncio.get_running_loop().time()
        dog.start(now - 1.0)
        dog.start(now - 2.0)
        try:
            await asyncio.sleep(WAIT_FOR_CUT_S)
        except asyncio.CancelledError:
            return dog.owns(task)
        finally:
            dog.close()
        return False

    assert uvloop.run(wait_past_deadlines())

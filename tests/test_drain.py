"""Draining on SIGTERM: the work in flight finishes, new work is refused in each dialect (and
fails over at the coordinator without the client noticing), the peer gossips that it takes no
new work, and `harombed` exits 0 within the drain timeout, or at once on a second signal."""

from __future__ import annotations

import asyncio
import json
import plistlib
import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import ollama
import openai
import pytest
import yaml
from support.cli_support import Harombed, cluster, node_config, poll, url_of

from harombe.daemon import Node
from harombe.limits import LimitsConfig
from harombe.routing.view import Candidate
from sim.fake_openai import FakeOpenAI, Reply

QUESTION = [{"role": "user", "content": "Tell me a long story."}]
EXIT_DEADLINE_S = 10.0
UNIT_MARGIN_S = 5.0  # leaving the cluster and closing take a second or two after the drain
ROOT = Path(__file__).resolve().parent.parent


def held_stream(release: asyncio.Event) -> Reply:
    """An answer that sends one piece, then waits for `release` before the rest."""
    return Reply(pieces=["one", " two", " three"], hold=release, hold_after=1)


def backend(fake: FakeOpenAI) -> dict[str, str]:
    return {"kind": "openai", "url": fake.url, "model": fake.model}


@pytest.fixture
async def release() -> AsyncIterator[asyncio.Event]:
    event = asyncio.Event()
    yield event
    event.set()


async def chat_lines(response: aiohttp.ClientResponse) -> list[dict]:
    return [json.loads(line) for line in (await response.read()).splitlines() if line.strip()]


async def test_a_stream_in_flight_finishes_while_new_work_gets_503(release):
    async with FakeOpenAI(default=held_stream(release)) as fake:
        config = node_config("b", 1, backend=backend(fake), limits={"drain_timeout": 30.0})
        async with Node(config) as node, aiohttp.ClientSession() as http:
            url = url_of(node)
            body = {"model": fake.model, "messages": QUESTION}
            async with http.post(f"{url}/api/chat", json=body) as stream:
                first = json.loads(await stream.content.readline())
                serving = asyncio.create_task(node.serve_forever())
                node.stop()
                await poll(lambda: node.drain.draining, "the drain to begin")

                async with http.get(f"{url}/health") as health:
                    assert health.status == 503
                    assert (await health.json())["status"] == "draining"
                with pytest.raises(ollama.ResponseError) as refused:
                    await ollama.AsyncClient(host=url).chat(model=fake.model, messages=QUESTION)
                assert refused.value.status_code == 503
                assert "draining" in refused.value.error
                client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
                with pytest.raises(openai.APIStatusError) as refused_openai:
                    await client.chat.completions.create(model=fake.model, messages=QUESTION)
                await client.close()
                assert refused_openai.value.status_code == 503
                assert refused_openai.value.response.headers["Retry-After"] == "1"
                assert refused_openai.value.body["code"] == "draining"
                assert not serving.done()  # the stream is still in flight

                release.set()
                rest = await chat_lines(stream)
            assert await asyncio.wait_for(serving, EXIT_DEADLINE_S) is True
    text = "".join(line["message"]["content"] for line in [first, *rest])
    assert text == "one two three" and rest[-1]["done"] is True
    assert len(fake.requests) == 1  # the refused requests never reached the backend


async def test_a_stream_still_running_at_the_drain_timeout_is_cut(release):
    async with FakeOpenAI(default=held_stream(release)) as fake:
        config = node_config("b", 1, backend=backend(fake), limits={"drain_timeout": 0.2})
        async with aiohttp.ClientSession() as http:
            async with Node(config) as node:
                body = {"model": fake.model, "messages": QUESTION}
                stream = await http.post(f"{url_of(node)}/api/chat", json=body)
                await stream.content.readline()
                node.stop()
                assert await asyncio.wait_for(node.serve_forever(), EXIT_DEADLINE_S) is False
            with pytest.raises(aiohttp.ClientPayloadError):  # cut when the node closed
                await stream.read()
            stream.release()


def serving(node: Node, name: str) -> bool:
    return any(c.name == name and c.backend_ok for c in node.dispatcher.view.candidates())


async def test_the_coordinator_fails_over_from_a_draining_peer_and_stops_choosing_it():
    async with FakeOpenAI() as leaving, FakeOpenAI(default=Reply(pieces=["from c"])) as healthy:
        entry = node_config("e", 1)
        draining = node_config("b", 1, backend=backend(leaving))
        other = node_config("c", 2, backend=backend(healthy))
        async with cluster(entry, draining, other) as (e, b, _):
            await poll(lambda: serving(e, "b") and serving(e, "c"), "e to see b and c serve")
            b.drain.begin()  # refusing work, not yet gossiped: the in-band refusal alone
            async with aiohttp.ClientSession() as http:
                body = {"model": "tier-1", "messages": QUESTION, "stream": False}
                async with http.post(f"{url_of(e)}/api/chat", json=body) as resp:
                    assert resp.status == 200, await resp.text()
                    answer = await resp.json()
            assert answer["message"]["content"] == "from c"
            [switch] = answer["harombe"]["fallbacks"]
            assert (switch["from_node"], switch["to_node"]) == ("b", "c")
            assert "draining" in switch["reason"]
            assert leaving.requests == []

            drained = asyncio.create_task(b.serve_forever())
            b.stop()  # now the record says it too
            await poll(lambda: not serving(e, "b"), "e to stop choosing the draining b")
            assert await asyncio.wait_for(drained, EXIT_DEADLINE_S) is True
            assert _names(e.dispatcher.view.candidates()) == {"c"}


def _names(candidates: list[Candidate]) -> set[str]:
    return {c.name for c in candidates if c.backend_ok}


# ---- a real harombed -----------------------------------------------------------------------


def daemon(tmp_path: Path, fake: FakeOpenAI, drain_timeout: float) -> Harombed:
    config = tmp_path / "harombed.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "cluster": {"mdns": False, "membership": {"profile": "local"}},
                "limits": {"drain_timeout": drain_timeout},
            }
        )
    )
    return Harombed(
        tmp_path, "d", "--config", str(config),
        "--backend", "openai", "--backend-url", fake.url, "--model", fake.model,
    )  # fmt: skip


async def exited(process, within: float) -> int:  # type: ignore[no-untyped-def]
    await poll(lambda: process.poll() is not None, "harombed to exit", within)
    return process.returncode


async def test_harombed_exits_0_on_sigterm_when_idle(tmp_path):
    async with FakeOpenAI() as fake:
        peer = daemon(tmp_path, fake, drain_timeout=30.0)
        peer.start()
        try:
            await peer.wait_healthy()
            peer.process.send_signal(signal.SIGTERM)
            assert await exited(peer.process, EXIT_DEADLINE_S) == 0, peer.log.read_text()
        finally:
            peer.stop()


async def test_a_second_sigterm_stops_harombed_at_once(tmp_path, release):
    """With a stream held in flight and a 30 s drain, the first signal drains (health says so),
    the second exits 0 at once, cutting the stream."""
    async with FakeOpenAI(default=held_stream(release)) as fake:
        peer = daemon(tmp_path, fake, drain_timeout=30.0)
        peer.start()
        try:
            await peer.wait_healthy()
            async with aiohttp.ClientSession() as http:
                body = {"model": fake.model, "messages": QUESTION}
                stream = await http.post(f"{peer.url}/api/chat", json=body)
                await stream.content.readline()
                peer.process.send_signal(signal.SIGTERM)

                async def draining() -> bool:
                    async with http.get(f"{peer.url}/health") as health:
                        return health.status == 503

                await poll(draining, "/health to say draining", EXIT_DEADLINE_S)
                assert peer.process.poll() is None  # still draining the stream
                peer.process.send_signal(signal.SIGTERM)
                assert await exited(peer.process, EXIT_DEADLINE_S) == 0, peer.log.read_text()
                with pytest.raises(aiohttp.ClientPayloadError):
                    await stream.read()
                stream.release()
        finally:
            peer.stop()


def test_the_service_units_wait_longer_than_the_drain():
    """systemd and launchd kill a service that outlives their stop timeout: it must leave the
    default drain a margin."""
    service = (ROOT / "docs" / "service" / "harombed.service").read_text()
    [stop_s] = re.findall(r"^TimeoutStopSec=(\d+)$", service, re.MULTILINE)
    plist = plistlib.loads((ROOT / "docs" / "service" / "com.harombe.harombed.plist").read_bytes())
    drain_s = LimitsConfig().drain_timeout
    assert int(stop_s) >= drain_s + UNIT_MARGIN_S
    assert plist["ExitTimeOut"] >= drain_s + UNIT_MARGIN_S

"""Whole peers: `Node` in-process and `harombed` as a process, on loopback only."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from support.cli_support import free_port, poll

from harombe.config import HarombeConfig
from harombe.daemon import Node
from sim.fake_openai import FakeOpenAI

DEADLINE_S = 20.0


def peer_config(name: str, tier: int = 0, seeds: list[str] | None = None, **extra) -> HarombeConfig:
    data = {
        "node": {"name": name, "tier": tier},
        "server": {"host": "127.0.0.1", "port": 0},
        "backend": {"kind": "none"},
        "cluster": {"mdns": False, "seeds": seeds or [], "membership": {"profile": "local"}},
    }
    for section, values in extra.items():
        data.setdefault(section, {}).update(values)
    return HarombeConfig.model_validate(data)


def states(node: Node) -> dict[str, str]:
    assert node.membership
    return {m.name: m.state.label for m in node.membership.members()}


@pytest.fixture
async def trio() -> AsyncIterator[list[Node]]:
    async with Node(peer_config("n0")) as first:
        seeds = [first.address]
        async with Node(peer_config("n1", 1, seeds)) as second:
            async with Node(peer_config("n2", 2, seeds)) as third:
                yield [first, second, third]


async def test_three_nodes_converge_and_report_status(trio):
    for node in trio:
        await poll(
            lambda node=node: states(node) == dict.fromkeys(["n0", "n1", "n2"], "alive"),
            f"{node.name} to see all alive",
        )
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://{trio[0].address}/cluster/status") as resp:
            status = await resp.json()
        async with http.get(f"http://{trio[0].address}/metrics") as resp:
            metrics = await resp.text()
    assert status["node"] == "n0"
    by_name = {n["name"]: n for n in status["nodes"]}
    assert by_name["n2"]["tier"] == 2 and by_name["n2"]["state"] == "alive"
    assert by_name["n1"]["address"] == trio[1].address
    for key in (
        "available",
        "models",
        "loaded",
        "load",
        "active",
        "capacity",
        "rtt_ms",
        "last_update_s",
        "breaker",
    ):
        assert key in by_name["n1"]
    assert 'harombe_members{state="alive"} 3' in metrics
    assert "harombe_membership_frames_received_total" in metrics


async def test_join_endpoint_accepts_loopback_and_validates():
    async with Node(peer_config("lonely")) as lonely, Node(peer_config("other")) as other:
        async with aiohttp.ClientSession() as http:
            url = f"http://{lonely.address}/cluster/join"
            async with http.post(url, json={"address": "not a host:port"}) as resp:
                assert resp.status == 400
            async with http.post(url, json={"address": other.address}) as resp:
                assert resp.status == 200
        await poll(lambda: states(other).get("lonely") == "alive", "other to see lonely")


async def test_wrong_cluster_key_is_never_admitted():
    key = {"security": {"cluster_key": "right-cluster-key-0123"}}
    async with Node(peer_config("k0", **key)) as first:
        async with Node(peer_config("k1", seeds=[first.address], **key)) as second:
            bad = peer_config(
                "intruder",
                seeds=[first.address],
                security={"cluster_key": "wrong-cluster-key-0123"},
            )
            async with Node(bad) as intruder:
                await poll(lambda: states(first).get("k1") == "alive", "k0 to admit k1")
                assert first.membership
                await poll(
                    lambda: first.membership.stats.dropped["unauthenticated"] > 0,
                    "k0 to drop the intruder's frames",
                )
                assert "intruder" not in states(first)
                assert "intruder" not in states(second)
                assert set(states(intruder)) == {"intruder"}


def _spawn(args: list[str], home, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "HAROMBE_HOME": str(home), **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "harombe.cli.daemon", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


async def _wait_health(url: str, proc: subprocess.Popen[str]) -> None:
    async def healthy() -> bool:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            async with aiohttp.ClientSession() as http, http.get(f"{url}/health") as resp:
                return resp.status == 200
        except aiohttp.ClientError:
            return False

    await poll(healthy, f"{url} to come up", deadline=60)


async def sees_alive(port: int, name: str) -> bool:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/cluster/status") as resp:
            nodes = (await resp.json())["nodes"]
    return any(n["name"] == name and n["state"] == "alive" for n in nodes)


# Probes that cannot time out within a test: the watcher and the leaver change each other's
# state only through messages (join, alive, left), never because a loaded machine answered a
# probe late, so the test sees the graceful leave or fails for a real reason.
NO_FAILURE_DETECTION = {"probe_interval": 600.0, "probe_timeout": 300.0}


async def test_harombed_sigterm_leaves_gracefully_and_exits(tmp_path):
    patient = {"mdns": False, "membership": {"profile": "local", **NO_FAILURE_DETECTION}}
    async with Node(peer_config("watcher", cluster=patient)) as watcher:
        port = free_port()
        proc = _spawn(
            [
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--name",
                "leaver",
                "--no-mdns",
                "--backend",
                "none",
                "--seed",
                watcher.address,
            ],
            tmp_path,
            env={
                f"HAROMBE_CLUSTER__MEMBERSHIP__{key.upper()}": str(value)
                for key, value in NO_FAILURE_DETECTION.items()
            },
        )
        try:
            await _wait_health(f"http://127.0.0.1:{port}", proc)
            await poll(lambda: states(watcher).get("leaver") == "alive", "leaver to join")
            # Both ways: a peer that has not yet heard back from anyone has nobody to tell.
            await poll(lambda: sees_alive(port, "watcher"), "leaver to see the watcher")
            proc.send_signal(signal.SIGTERM)
            started = time.monotonic()
            code = await asyncio.to_thread(proc.wait, 30)
            exited_after = time.monotonic() - started
            assert code == 0
            await poll(lambda: states(watcher).get("leaver") == "left", "watcher to see left")
        finally:
            proc.kill()
    print(f"harombed exited {exited_after:.2f}s after SIGTERM")


@pytest.mark.llamacpp
async def test_harombed_demo_model_answers_official_clients(tmp_path):
    pytest.importorskip("xllamacpp")
    import ollama
    import openai

    port = free_port()
    proc = _spawn(
        [
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--name",
            "demo",
            "--no-mdns",
            "--demo-model",
            "--model",
            "qwen2.5:7b",
        ],
        tmp_path,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_health(url, proc)
        assert (tmp_path / "models").is_dir()
        client = ollama.AsyncClient(host=url)
        names = [m.model for m in (await client.list()).models]
        assert "harombe-demo" in names and "auto" in names
        assert "qwen2.5:7b" not in names  # the toy never poses as the configured model
        reply = await client.chat(
            model="auto", messages=[{"role": "user", "content": "hi"}], options={"num_predict": 5}
        )
        assert reply.done and reply.message.role == "assistant"
        oai = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="unused")
        stream = await oai.chat.completions.create(
            model="harombe-demo",
            messages=[{"role": "user", "content": "hi"}],
            max_tokens=5,
            stream=True,
        )
        chunks = [c async for c in stream]
        # The demo model may end an answer at once (its weights are random), so this checks
        # the stream's shape, not its text.
        assert chunks[0].choices[0].delta.role == "assistant"
        finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
        assert finishes[-1] in ("stop", "length")
        assert all(c.model == "harombe-demo" for c in chunks)
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 10)


async def test_unreachable_backend_is_gossiped_as_down():
    dead_backend = {"kind": "openai", "url": f"http://127.0.0.1:{free_port()}"}
    async with Node(peer_config("nobackend", backend=dead_backend)) as node:
        assert node.membership
        me = node.membership.get("nobackend")
        assert me and me.record and me.record.backend_ok is False
        status = {n["name"]: n for n in node.status()}
        assert status["nobackend"]["available"] is False


async def test_context_windows_and_tool_calling_are_gossiped():
    async with FakeOpenAI("fake-model", n_ctx=4096, capabilities=["completion", "tools"]) as fake:
        backend = {"kind": "openai", "url": fake.url}
        async with Node(peer_config("served", backend=backend)) as served:
            async with Node(peer_config("watcher", 1, [served.address])) as watcher:
                assert watcher.membership

                def seen() -> bool:
                    member = watcher.membership.get("served")
                    record = member.record if member else None
                    return bool(record and record.ctx == {"fake-model": 4096}) and (
                        record.tool_models == ["fake-model"]
                    )

                await poll(seen, "the watcher sees the served node's window and tools")

"""Monitoring end to end: three whole peers on loopback, each beside the real llama.cpp
server, real requests through the official ollama and openai clients; then /metrics parsed with
prometheus_client's own parser and /cluster/stats (this peer's, and merged over the cluster)
checked against exactly what was sent."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import ollama
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.cli_support import invoke, poll

from harombe.config import HarombeConfig
from harombe.daemon import Node
from sim.fake_openai import FakeOpenAI, Reply

pytestmark = pytest.mark.llamacpp

USER = [{"role": "user", "content": "Say something."}]
OPTIONS = {"num_predict": 4, "seed": 3}


def node_config(name: str, tier: int, backend_url: str, model: str, seeds: list[str]):
    return HarombeConfig.model_validate(
        {
            "node": {"name": name, "tier": tier},
            "server": {"host": "127.0.0.1", "port": 0},
            "backend": {"kind": "openai", "url": backend_url, "model": model},
            "cluster": {"mdns": False, "seeds": seeds, "membership": {"profile": "local"}},
            "monitoring": {"sample_interval": 0.5},
        }
    )


@pytest.fixture
async def trio(llama_server) -> AsyncIterator[list[Node]]:
    url, model = llama_server.base_url, llama_server.model
    async with Node(node_config("m0", 0, url, model, [])) as first:
        seeds = [first.address]
        async with (
            Node(node_config("m1", 1, url, model, seeds)) as second,
            Node(node_config("m2", 2, url, model, seeds)) as third,
        ):
            nodes = [first, second, third]
            await poll(lambda: all(_sees_all_serving(n) for n in nodes), "3 peers ready")
            yield nodes


def _sees_all_serving(node: Node, n: int = 3) -> bool:
    rows = node.status()
    return len(rows) == n and all(r["available"] and r["models"] for r in rows)


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """(sample name, labels) → value, from Prometheus text parsed by prometheus_client."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(parsed: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    return parsed.get((name, frozenset(labels.items())), 0.0)


def total(parsed: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    """Sum over every series of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, lbl), v in parsed.items() if n == name and want <= lbl)


async def send_requests(url: str) -> None:
    """Exactly: ollama → tier 0 twice (once streamed), openai → tier 1 (streamed),
    /cluster/execute → tier 2, and one request for a model nobody serves."""
    client = ollama.AsyncClient(host=url)
    await client.chat(model="tier-0", messages=USER, options=OPTIONS)
    async for _ in await client.chat(model="tier-0", messages=USER, options=OPTIONS, stream=True):
        pass
    await client.close()
    oa = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
    stream = await oa.chat.completions.create(
        model="tier-1", messages=USER, max_tokens=4, stream=True, seed=3
    )
    async for _ in stream:
        pass
    with pytest.raises(openai.NotFoundError):
        await oa.chat.completions.create(model="no-such-model", messages=USER, max_tokens=4)
    await oa.close()
    async with aiohttp.ClientSession() as http:
        body = {"query": "Say something.", "prefer_tier": 2}
        async with http.post(f"{url}/cluster/execute", json=body) as resp:
            assert resp.status == 200, await resp.text()


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return resp.status, await resp.text()


async def test_metrics_and_stats_count_exactly_what_was_sent(trio, llama_server):
    m0, m1, m2 = trio
    model = llama_server.model
    await send_requests(f"http://{m0.address}")
    # Ollama's "load" call (no messages) routes nothing: not counted.
    load = ollama.AsyncClient(host=f"http://{m0.address}")
    await load.chat(model="tier-0", messages=[])
    await load.close()
    # One more, coordinated by m1, so the merged statistics have two coordinators.
    client = ollama.AsyncClient(host=f"http://{m1.address}")
    await client.chat(model="tier-1", messages=USER, options=OPTIONS)
    await client.close()

    status, text = await get(f"http://{m0.address}/metrics")
    assert status == 200
    m = samples(text)
    requests = "harombe_requests_total"
    assert value(m, requests, node="m0", tier="0", model=model, api="ollama", outcome="ok") == 2
    assert value(m, requests, node="m1", tier="1", model=model, api="openai", outcome="ok") == 1
    assert value(m, requests, node="m2", tier="2", model=model, api="cluster", outcome="ok") == 1
    assert value(m, requests, node="none", tier="none", model="none", api="openai",
                 outcome="client_error") == 1  # fmt: skip
    assert total(m, requests) == 5
    assert total(m, "harombe_request_duration_seconds_count") == 5
    assert total(m, "harombe_request_ttft_seconds_count") == 4  # the 404 had no first chunk
    assert total(m, "harombe_tokens_total", direction="out") >= 4
    assert total(m, "harombe_tokens_total", direction="in") > 0
    assert value(m, "harombe_members", state="alive") == 3
    assert value(m, "harombe_breaker_state", node="m1", state="closed") == 1
    assert value(m, "harombe_membership_bytes_sent_total") > 0
    for name in ("m0", "m1", "m2"):
        assert value(m, "harombe_node_capacity", node=name) >= 1
        assert value(m, "harombe_node_tier", node=name) == int(name[1])

    # m1 served a forwarded request but coordinated only its own one.
    _, text1 = await get(f"http://{m1.address}/metrics")
    m1_parsed = samples(text1)
    assert total(m1_parsed, requests) == 1
    assert value(m1_parsed, requests, node="m1", tier="1", model=model, api="ollama",
                 outcome="ok") == 1  # fmt: skip

    status, body = await get(f"http://{m0.address}/cluster/stats?recent=10")
    assert status == 200
    stats = json.loads(body)
    assert stats["scope"] == "node" and stats["node"] == "m0"
    for window in ("minute", "hour", "total"):
        w = stats["windows"][window]
        assert w["requests"] == 5
        assert w["by_node"] == {"m0": 2, "m1": 1, "m2": 1, "none": 1}
        assert w["by_tier"] == {"0": 2, "1": 1, "2": 1, "none": 1}
        assert w["by_api"] == {"ollama": 2, "openai": 2, "cluster": 1}
        assert w["by_outcome"] == {"ok": 4, "client_error": 1}
        assert w["errors"] == 0 and w["error_rate"] == 0.0 and w["fallback_rate"] == 0.0
        assert 0 < w["latency_s"]["p50"] <= w["latency_s"]["p99"]
    assert [r["api"] for r in stats["recent"]] == ["cluster", "openai", "openai", "ollama",
                                                   "ollama"]  # fmt: skip

    top = await invoke("top", "--once", "--peer", f"http://{m0.address}")
    assert top.exit_code == 0, top.output
    print(top.output)  # the frame, for the record (docs/monitoring.md shows one)
    assert "m0*" in top.output and top.output.count("alive") == 3
    assert "last minute, routed by this peer: 5 requests, 0% errors" in top.output
    assert "client_error" in top.output and "cluster" in top.output

    everyone = await invoke("top", "--once", "--cluster", "--peer", f"http://{m0.address}")
    assert "last minute, routed by every peer: 6 requests" in everyone.output, everyone.output

    status, body = await get(f"http://{m2.address}/cluster/stats?cluster=1")
    merged = json.loads(body)
    assert merged["scope"] == "cluster" and merged["missing"] == {}
    assert merged["coordinators"] == ["m0", "m1", "m2"]
    w = merged["windows"]["total"]
    assert w["requests"] == 6
    assert w["by_node"] == {"m0": 2, "m1": 2, "m2": 1, "none": 1}


async def test_live_utilisation_is_gossiped_and_exported(trio):
    m0 = trio[0]

    def everyone_sampled() -> bool:
        rows = m0.status()
        return all(r["utilisation"] and r["utilisation"]["ram_total_bytes"] for r in rows)

    await poll(everyone_sampled, "every node's utilisation to reach m0")
    rows = {r["name"]: r for r in m0.status()}
    for row in rows.values():
        u = row["utilisation"]
        assert 0 < u["ram_used_bytes"] <= u["ram_total_bytes"]
        assert u["cpu"] is None or 0 <= u["cpu"] <= 1
        assert u["gpus"] == []  # no GPU here: none listed, none reported as idle
        assert row["utilisation_age_s"] is not None and row["utilisation_age_s"] >= 0
    _, text = await get(f"http://{m0.address}/metrics")
    m = samples(text)
    for name in ("m0", "m1", "m2"):
        assert value(m, "harombe_node_memory_total_bytes", node=name) > 0
    assert total(m, "harombe_node_gpu_utilization_ratio") == 0  # unknown: no series at all
    assert not [k for k in m if k[0] == "harombe_node_gpu_utilization_ratio"]


async def test_a_fallback_is_counted_with_its_reason(llama_server):
    """f1 (tier 1) fails before its first token; the answer falls back to f2 (tier 2)."""
    async with FakeOpenAI(default=Reply(status=500)) as broken:
        f1_cfg = node_config("f1", 1, broken.url, broken.model, [])
        async with Node(f1_cfg) as f1:
            f2_cfg = node_config("f2", 2, llama_server.base_url, llama_server.model, [f1.address])
            async with Node(f2_cfg) as f2:
                await poll(lambda: _sees_all_serving(f2, 2), "2 peers ready")
                client = ollama.AsyncClient(host=f"http://{f2.address}")
                reply = await client.chat(model="tier-1", messages=USER, options=OPTIONS)
                await client.close()
                assert reply.done
                _, text = await get(f"http://{f2.address}/metrics")
                _, body = await get(f"http://{f2.address}/cluster/stats?recent=1")
    m = samples(text)
    assert total(m, "harombe_fallbacks_total") == 1
    model = llama_server.model
    assert value(m, "harombe_requests_total", node="f2", tier="2", model=model, api="ollama",
                 outcome="ok") == 1  # fmt: skip
    w = json.loads(body)["windows"]["total"]
    assert w["fallbacks"] == 1 and w["fallback_rate"] == 1.0 and w["error_rate"] == 0.0
    [recent] = json.loads(body)["recent"]
    assert recent["node"] == "f2" and len(recent["fallbacks"]) == 1
    assert set(w["fallback_reasons"]) == set(recent["fallbacks"])

"""Monitoring behind client API keys, on whole peers: the dashboard page loads (it holds no
data), its event stream and the JSON/metrics endpoints need the key, and `?cluster=1` still
reaches every peer (peer requests are signed with the cluster key instead), over TLS too."""

from __future__ import annotations

import ssl

import aiohttp
from support.cli_support import cluster, node_config, poll
from support.tls_certs import TestCA

from harombe.config import HarombeConfig
from harombe.daemon import Node

API_KEY = "client-key-0123456789"
SECURITY = {"cluster_key": "cluster-key-0123456789", "api_keys": [API_KEY]}


def config(name: str, seeds: list[str]) -> HarombeConfig:
    return HarombeConfig.model_validate(
        {
            "node": {"name": name},
            "server": {"host": "127.0.0.1", "port": 0},
            "backend": {"kind": "none"},
            "cluster": {"mdns": False, "seeds": seeds, "membership": {"profile": "local"}},
            "security": SECURITY,
        }
    )


async def test_monitoring_respects_api_keys():
    async with Node(config("k0", [])) as first, Node(config("k1", [first.address])) as second:
        await poll(
            lambda: second.gossip is not None and len(second.gossip.live_peers()) == 1,
            "k1 to see k0",
        )
        base = f"http://{first.address}"
        auth = {"Authorization": f"Bearer {API_KEY}"}
        async with aiohttp.ClientSession() as http:
            for path in ("/dashboard", "/dashboard/dashboard.js"):
                async with http.get(base + path) as resp:
                    assert resp.status == 200, path
            for path in ("/dashboard/events", "/cluster/stats", "/metrics"):
                async with http.get(base + path) as resp:
                    assert resp.status == 401, path
            async with http.get(base + "/dashboard/events", headers=auth) as resp:
                assert resp.status == 200
                assert (await resp.content.readuntil(b"\n\n")).startswith(b"data: {")
            async with http.get(base + "/metrics", headers=auth) as resp:
                assert resp.status == 200
                assert "harombe_http_connections " in await resp.text()
            url = f"http://{second.address}/cluster/stats?cluster=1"
            async with http.get(url, headers=auth) as resp:
                merged = await resp.json()
        assert merged["coordinators"] == ["k0", "k1"] and merged["missing"] == {}


async def test_cluster_stats_reach_tls_peers(tmp_path):
    """With TLS, peers are asked over HTTPS with this peer's certificate."""
    ca = TestCA(tmp_path / "ca")
    key = {"cluster_key": "cluster-key-0123456789"}
    async with cluster(
        node_config("a", tls=ca.issue("a").tls(), security=key),
        node_config("b", tls=ca.issue("b").tls(), security=key),
    ) as (a, _b):
        context = ssl.create_default_context(cafile=ca.ca_path)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as http:
            async with http.get(f"https://{a.address}/cluster/stats?cluster=1") as resp:
                merged = await resp.json()
    assert merged["coordinators"] == ["a", "b"] and merged["missing"] == {}

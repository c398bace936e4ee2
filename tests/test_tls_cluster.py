"""TLS: two peers form a cluster over WSS and forward over HTTPS; a peer whose certificate the
cluster CA did not sign is never admitted; clients verify the peer with `--ca`."""

from __future__ import annotations

import ssl

import aiohttp
import pytest
from support.cli_support import client_config, cluster, invoke, node_config, poll, states
from support.tls_certs import TestCA

from harombe.daemon import Node

KEY = {"cluster_key": "cluster-key-0123456789"}
MODEL = "llama3.2:latest"


@pytest.fixture
def ca(tmp_path) -> TestCA:
    return TestCA(tmp_path / "ca")


def tls_node(name: str, ca: TestCA, **sections):
    return node_config(name, tls=ca.issue(name).tls(), security=KEY, **sections)


async def test_two_peers_form_a_cluster_over_wss_and_forward_over_https(ca, fake_ollama):
    backend = {"kind": "ollama", "url": fake_ollama.url}
    async with cluster(tls_node("a", ca), tls_node("b", ca, backend=backend)) as (a, _b):
        assert a.transport is not None and a.transport.scheme == "https"
        context = ssl.create_default_context(cafile=ca.ca_path)
        chat = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": False}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as http:
            async with http.post(f"https://{a.address}/api/chat", json=chat) as resp:
                assert resp.status == 200
                assert resp.headers["X-Harombe-Node"] == "b"
            # A client without a certificate is served, but may not use the peer paths.
            async with http.get(f"https://{a.address}/cluster/ws") as resp:
                assert resp.status == 403


async def test_a_peer_from_another_ca_is_never_admitted(ca, tmp_path):
    stranger_ca = TestCA(tmp_path / "other", name="someone else's CA")
    async with Node(tls_node("member", ca)) as member:
        intruder_cfg = tls_node("intruder", stranger_ca, cluster={"seeds": [member.address]})
        async with Node(intruder_cfg) as intruder:
            assert intruder.transport is not None
            await poll(
                lambda: intruder.transport.stats.connect_failures >= 3,
                "the intruder's dials to fail",
            )
            assert set(states(member)) == {"member"}
            assert states(intruder).get("member") != "alive"


async def test_plain_http_is_not_served_on_a_tls_peer(ca):
    async with Node(tls_node("a", ca)) as node:
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.ClientError):
                async with http.get(f"http://{node.address}/health") as resp:
                    await resp.read()


async def test_cli_verifies_the_peer_with_ca(ca, tmp_path):
    async with Node(tls_node("a", ca)) as node:
        config = str(client_config(tmp_path / "client.yaml"))
        url = f"https://{node.address}"
        unverified = await invoke("peers", "--config", config, "--peer", url)
        assert unverified.exit_code == 1
        shown = await invoke("--ca", str(ca.ca_path), "peers", "--config", config, "--peer", url)
        assert shown.exit_code == 0, shown.output
        assert "a *" in shown.output

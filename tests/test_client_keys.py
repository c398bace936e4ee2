"""Client API keys: the official openai and ollama clients pass with the key and fail without;
every endpoint but /health asks for it, in its own dialect; peers still forward."""

from __future__ import annotations

import aiohttp
import ollama
import openai
import pytest
from support.cli_support import client_config, cluster, invoke, node_config, url_of

from harombe.cli.client import API_KEY_ENV
from harombe.daemon import Node

KEY = "client-key-0123456789"
CLUSTER_KEY = "cluster-key-0123456789"
SECURITY = {"cluster_key": CLUSTER_KEY, "api_keys": [KEY]}
CHAT = [{"role": "user", "content": "hi"}]
MODEL = "llama3.2:latest"


def keyed_config(name: str, fake_url: str | None = None):
    backend = {"kind": "ollama", "url": fake_url} if fake_url else {"kind": "none"}
    return node_config(name, backend=backend, security=SECURITY)


async def test_openai_client_needs_the_key(fake_ollama):
    async with Node(keyed_config("keyed", fake_ollama.url)) as node:
        base = f"{url_of(node)}/v1"
        good = openai.AsyncOpenAI(base_url=base, api_key=KEY, max_retries=0)
        answer = await good.chat.completions.create(model=MODEL, messages=CHAT)
        assert answer.choices[0].message.content
        bad = openai.AsyncOpenAI(base_url=base, api_key="wrong-key-0123456789", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as refused:
            await bad.chat.completions.create(model=MODEL, messages=CHAT)
        assert refused.value.body["code"] == "invalid_api_key"


async def test_ollama_client_needs_the_key(fake_ollama):
    async with Node(keyed_config("keyed", fake_ollama.url)) as node:
        good = ollama.AsyncClient(host=url_of(node), headers={"Authorization": f"Bearer {KEY}"})
        answer = await good.chat(model=MODEL, messages=CHAT)
        assert answer.message.content
        with pytest.raises(ollama.ResponseError) as refused:
            await ollama.AsyncClient(host=url_of(node)).chat(model=MODEL, messages=CHAT)
        assert refused.value.status_code == 401 and "API key" in refused.value.error


@pytest.mark.parametrize("path", ["/cluster/status", "/metrics", "/api/tags", "/v1/models"])
async def test_every_endpoint_but_health_needs_the_key(path):
    async with Node(keyed_config("keyed")) as node:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url_of(node)}/health") as resp:
                assert resp.status == 200
            async with http.get(url_of(node) + path) as resp:
                assert resp.status == 401
                assert resp.headers["WWW-Authenticate"].startswith("Bearer")
            headers = {"Authorization": f"Bearer {KEY}"}
            async with http.get(url_of(node) + path, headers=headers) as resp:
                assert resp.status == 200


async def test_peers_forward_without_client_keys(fake_ollama):
    """A routing-only peer sends the query to the one with a backend: the hop is signed with
    the cluster key, not an API key."""
    async with cluster(keyed_config("router"), keyed_config("server", fake_ollama.url)) as nodes:
        client = openai.AsyncOpenAI(base_url=f"{url_of(nodes[0])}/v1", api_key=KEY, max_retries=0)
        raw = await client.chat.completions.with_raw_response.create(model=MODEL, messages=CHAT)
        assert raw.headers["X-Harombe-Node"] == "server"


async def test_cli_sends_the_api_key(tmp_path, monkeypatch):
    async with Node(keyed_config("keyed")) as node:
        config = str(client_config(tmp_path / "client.yaml"))
        monkeypatch.delenv(API_KEY_ENV, raising=False)
        refused = await invoke("peers", "--config", config, "--peer", url_of(node))
        assert refused.exit_code == 1 and "401" in refused.output
        monkeypatch.setenv(API_KEY_ENV, KEY)
        shown = await invoke("peers", "--json", "--config", config, "--peer", url_of(node))
        assert shown.exit_code == 0, shown.output
        assert '"auth": "cluster-key"' in shown.output


async def test_keyless_cluster_says_unauthenticated(tmp_path, caplog):
    async with Node(node_config("open")) as node:
        assert any(
            r.levelname == "WARNING" and "unauthenticated" in r.getMessage() for r in caplog.records
        )
        config = str(client_config(tmp_path / "client.yaml"))
        shown = await invoke("peers", "--config", config, "--peer", url_of(node))
        assert shown.exit_code == 0 and "unauthenticated" in shown.output

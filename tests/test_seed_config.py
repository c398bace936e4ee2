"""The seed notes' cluster file, as written, running: harombe peers joined like seeds, and the
"cloud fallback" node as a plain llama.cpp server behind a bearer token, sponsored by the peer
that lists it and routed to from a peer that does not."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import aiohttp
import pytest
from support.cli_support import (
    client_config,
    free_port,
    get_status,
    invoke,
    node_config,
    poll,
    states,
    url_of,
)

from harombe.config import load_config
from harombe.daemon import Node

DATA = Path(__file__).parent / "data"
CLOUD_TOKEN = "token-abc123"  # the seed's own `auth` value
CLOUD_MODEL = "qwen2.5:72b"


def on_loopback(text: str, ports: dict[str, int]) -> str:
    """The seed's file with each listed node's host rewritten to 127.0.0.1 and a port."""
    out, node = [], None
    for line in text.splitlines():
        if named := re.match(r"\s*- name: (\S+)", line):
            node = named[1]
        host = re.match(r"(\s*)host: \S+(.*)", line)
        if host and node is not None:
            out += [f"{host[1]}host: 127.0.0.1{host[2]}", f"{host[1]}port: {ports[node]}"]
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def test_the_rewrite_touches_node_addresses_only():
    text = on_loopback((DATA / "seed-cluster.yaml").read_text(), dict.fromkeys(
        ["my-macbook", "gaming-pc", "server-closet", "amd-workstation", "vast-ai-instance"], 9
    ))  # fmt: skip
    assert "host: localhost" in text  # the coordinator's, left alone
    assert text.count("host: 127.0.0.1") == 5 and "auth: token-abc123" in text


@pytest.fixture
def cloud_server(tiny_gguf: Path):
    """A plain llama.cpp server serving the seed's cloud model name, behind the seed's token."""
    pytest.importorskip("xllamacpp")
    from harombe.inference.llamacpp import start_server, stop_server

    server = start_server(
        tiny_gguf, model_name=CLOUD_MODEL, n_ctx=2048, threads=2, api_keys=[CLOUD_TOKEN]
    )
    holder = [server]
    yield server.listening_address
    del server
    stop_server(holder)


@pytest.mark.llamacpp
async def test_the_seed_cluster_file_runs_with_a_plain_server_as_cloud_fallback(
    tmp_path, cloud_server, caplog
):
    caplog.set_level(logging.INFO, logger="harombe.daemon")
    async with aiohttp.ClientSession() as http:
        body = {"model": CLOUD_MODEL, "messages": [{"role": "user", "content": "hi"}]}
        async with http.post(f"{cloud_server}/v1/chat/completions", json=body) as resp:
            assert resp.status == 401  # the token is needed

    nobody = free_port()
    ports = {
        "my-macbook": nobody,  # listed but switched off
        "gaming-pc": free_port(),
        "server-closet": free_port(),
        "amd-workstation": nobody,
        "vast-ai-instance": int(cloud_server.rsplit(":", 1)[1]),
    }
    path = tmp_path / "cluster.yaml"
    path.write_text(on_loopback((DATA / "seed-cluster.yaml").read_text(), ports))
    local = {
        "node": {"name": "home"},
        "server": {"host": "127.0.0.1", "port": 0},
        "backend": {"kind": "none"},
        "cluster": {"mdns": False, "membership": {"profile": "local"}},
    }
    home_config = load_config(path, local, environ={})

    def peer(name: str, tier: int) -> Node:
        return Node(node_config(name, tier, server={"host": "127.0.0.1", "port": ports[name]}))

    async with peer("gaming-pc", 1) as gaming, peer("server-closet", 2), Node(home_config) as home:
        await poll(
            lambda: {"gaming-pc", "server-closet"} <= {n for n, s in states(home).items()
                                                       if s == "alive"},
            "the listed harombe peers to be joined",
        )  # fmt: skip

        async def cloud_row(url: str) -> dict | None:
            nodes = (await get_status(url))["nodes"]
            row = next((n for n in nodes if n["name"] == "vast-ai-instance"), None)
            return row if row and row["available"] else None

        await poll(lambda: cloud_row(url_of(gaming)), "the cloud node to reach gaming-pc's view")
        row = await cloud_row(url_of(gaming))
        assert row is not None
        assert (row["kind"], row["tier"], row["models"]) == ("openai", 2, [CLOUD_MODEL])
        assert (row["via"], row["address"]) == ("home", home.address)
        assert not any(n["name"] == "my-macbook" for n in (await get_status(url_of(home)))["nodes"])
        explained = [r for r in caplog.records if "cluster.coordinator is accepted" in r.message]
        assert len(explained) == 1  # said once, by the peer whose file has it

        # gaming-pc does not list the cloud node: its request goes through home, which sends
        # the token to the plain server.
        async with aiohttp.ClientSession() as http:
            chat = {
                "model": CLOUD_MODEL,
                "messages": [{"role": "user", "content": "hi"}],
                "stream": False,
                "options": {"num_predict": 3},
            }
            async with http.post(f"{url_of(gaming)}/api/chat", json=chat) as resp:
                answer = await resp.json()
                assert resp.status == 200, answer
                assert resp.headers["X-Harombe-Node"] == "vast-ai-instance"
        assert answer["done"] is True

        client = client_config(tmp_path / "client.yaml")
        table = await invoke("peers", "--peer", url_of(gaming), "--config", str(client))
        assert table.exit_code == 0, table.output
        assert "vast-ai-instance" in table.stdout and "openai via home" in table.stdout
        assert CLOUD_MODEL in table.stdout

        # cluster test reaches the cloud node through its sponsor, with a one-token request.
        test = await invoke("cluster", "test", "--peer", url_of(gaming), "--config", str(client))
        cloud = [ln for ln in test.stdout.splitlines() if "vast-ai-inst" in ln]
        assert len(cloud) == 1 and " ok " in cloud[0], test.stdout


async def test_a_hop_request_for_a_node_this_peer_does_not_sponsor_is_refused():
    async with Node(node_config("lonely")) as lonely, aiohttp.ClientSession() as http:
        headers = {"X-Harombe-Hop": "someone", "X-Harombe-Sponsored": "ghost"}
        chat = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": False}
        async with http.post(f"{url_of(lonely)}/api/chat", json=chat, headers=headers) as resp:
            assert resp.status == 503
            assert "does not sponsor a node named 'ghost'" in (await resp.json())["error"]


def test_records_carry_sponsored_nodes_and_exclusions_within_bounds():
    from harombe.cluster.record import MAX_SPONSORED, NodeRecord, SponsoredNode

    node = SponsoredNode("cloud", 2, ["qwen2.5:72b"], True, "openai")
    record = NodeRecord("home", "10.0.0.1:8765", sponsored=[node], excluded=["old-box"])
    assert NodeRecord.from_raw(record.raw()) == record
    for bad in (
        [node.to_wire()] * (MAX_SPONSORED + 1),
        [{"name": 7}],
        [{"name": "x", "tier": -1}],
        "not a list",
    ):
        wire = {**record.to_wire(), "sponsored": bad}
        with pytest.raises(ValueError):
            NodeRecord.from_wire(wire)
    old = {k: v for k, v in record.to_wire().items() if k not in ("sponsored", "excluded")}
    assert NodeRecord.from_wire(old).sponsored == []  # from a peer without the fields


def test_the_mdns_service_type_comes_from_the_config():
    from harombe.cluster.discovery import MdnsDiscovery

    cfg = load_config(DATA / "seed-discovery-mdns.yaml", environ={})
    mdns = MdnsDiscovery(
        name="a", label="harombe", api_port=8765, host="127.0.0.1", interfaces=["127.0.0.1"],
        on_peer=lambda address: None, service_type=cfg.discovery.service,
    )  # fmt: skip
    assert mdns._info.type == "_harombe._tcp.local."
    other = MdnsDiscovery(
        name="a", label="harombe", api_port=8765, host="127.0.0.1", interfaces=["127.0.0.1"],
        on_peer=lambda address: None, service_type="_lab._tcp.local",
    )  # fmt: skip
    assert other._info.type == "_lab._tcp.local." and other._info.name == "a._lab._tcp.local."

"""`harombe peers|cluster|doctor|chat` through typer's CliRunner against real peers on loopback."""

from __future__ import annotations

import asyncio
import email.utils
import json
import secrets
from pathlib import Path

import pytest
import yaml
from support.cli_support import (
    client_config,
    cluster,
    free_port,
    get_status,
    invoke,
    node_config,
    poll,
    states,
    url_of,
)

from harombe.cli.client import find_peer
from harombe.cli.cluster_check import clock_skew
from harombe.config import load_config
from harombe.daemon import Node
from sim.fake_openai import FakeOpenAI, Reply


@pytest.fixture
def cfg_file(tmp_path: Path) -> Path:
    return client_config(tmp_path / "harombe.yaml")


@pytest.fixture
async def trio():
    async with cluster(node_config("alpha"), node_config("beta", 1), node_config("gamma", 2)) as n:
        yield n


def demo_backend(llama_server) -> dict[str, str]:
    return {"kind": "openai", "url": llama_server.base_url, "model": llama_server.model}


async def test_peers_json_table_and_cluster_status(trio, cfg_file):
    url = url_of(trio[0])
    result = await invoke("peers", "--json", "--peer", url, "--config", str(cfg_file))
    assert result.exit_code == 0, result.output
    view = json.loads(result.stdout)
    assert view["node"] == "alpha"
    assert {n["name"]: n["state"] for n in view["nodes"]} == dict.fromkeys(
        ["alpha", "beta", "gamma"], "alive"
    )
    assert {n["name"]: n["tier"] for n in view["nodes"]} == {"alpha": 0, "beta": 1, "gamma": 2}

    table = await invoke("peers", "--peer", url, "--config", str(cfg_file))
    assert table.exit_code == 0, table.output
    for name in ("alpha *", "beta", "gamma", trio[1].address, "no backend"):
        assert name in table.stdout

    status = await invoke("cluster", "status", "--peer", url, "--config", str(cfg_file))
    assert status.exit_code == 0, status.output
    summary = "cluster seen from alpha: 3 nodes (3 alive); tiers served: none; models: none"
    assert summary in status.stdout  # none of them has a backend
    assert "gamma" in status.stdout


async def test_the_local_daemon_is_found_without_peer(tmp_path):
    async with cluster(node_config("local")) as (node,):
        port = int(node.address.rsplit(":", 1)[1])
        cfg = client_config(tmp_path / "c.yaml", server={"host": "127.0.0.1", "port": port})
        result = await invoke("peers", "--json", "--config", str(cfg))
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["node"] == "local"


async def test_cluster_add_writes_the_seed_and_the_daemon_joins(tmp_path):
    async with cluster(node_config("old")) as (old,), cluster(node_config("new")) as (new,):
        cfg = tmp_path / "harombe.yaml"
        cfg.write_text(
            "# my cluster\n"
            "server:\n"
            f"  port: {new.address.rsplit(':', 1)[1]}   # the daemon here\n"
            "cluster:\n"
            "  mdns: false\n"
            "  seeds: []   # HOST:PORT of other peers\n"
        )
        result = await invoke("cluster", "add", old.address, "--config", str(cfg))
        assert result.exit_code == 0, result.output
        assert f"added: {old.address}" in result.stdout
        assert "is joining" in result.stdout
        assert load_config(cfg).cluster.seeds == [old.address]
        text = cfg.read_text()
        assert "# my cluster" in text and "# HOST:PORT of other peers" in text
        await poll(lambda: states(new).get("old") == "alive", "the new peer to join")
        await poll(lambda: states(old).get("new") == "alive", "the old peer to see the new one")

        again = await invoke("cluster", "add", old.address, "--config", str(cfg))
        assert again.exit_code == 0 and "already listed" in again.stdout

        before = cfg.read_text()
        for own in (new.address, f"localhost:{new.port}"):
            refused = await invoke("cluster", "add", own, "--config", str(cfg))
            assert refused.exit_code == 2, refused.output
            assert "this peer's own address" in refused.stderr
        assert cfg.read_text() == before

        removed = await invoke("cluster", "remove", old.address, "--config", str(cfg))
        assert removed.exit_code == 0, removed.output
        assert load_config(cfg).cluster.seeds == []
        assert "# my cluster" in cfg.read_text()
        missing = await invoke("cluster", "remove", "nobody", "--config", str(cfg))
        assert missing.exit_code == 1
        assert "nobody is not a seed" in missing.stderr


async def test_cluster_add_without_a_daemon_still_writes_the_seed(tmp_path):
    cfg = tmp_path / "fresh" / "harombe.yaml"
    result = await invoke(
        "cluster", "add", "10.0.0.7", "--config", str(cfg), "--peer", "127.0.0.1:9"
    )
    assert result.exit_code == 0, result.output
    assert "no running daemon told" in result.stdout
    assert yaml.safe_load(cfg.read_text()) == {"cluster": {"seeds": ["10.0.0.7:8765"]}}
    bad = await invoke("cluster", "add", "not an address", "--config", str(cfg))
    assert bad.exit_code == 2 and "not HOST or HOST:PORT" in bad.stderr


async def test_cluster_remove_drops_a_listed_node_by_name(tmp_path):
    cfg = tmp_path / "harombe.yaml"
    nodes = [{"name": "gpu-box", "host": "10.0.0.2"}, {"name": "mac", "host": "10.0.0.3"}]
    cfg.write_text(yaml.safe_dump({"cluster": {"seeds": ["10.0.0.9:8765"], "nodes": nodes}}))
    result = await invoke("cluster", "remove", "gpu-box", "--config", str(cfg))
    assert result.exit_code == 0, result.output
    assert [n.name for n in load_config(cfg).cluster.nodes] == ["mac"]
    assert load_config(cfg).cluster.seeds == ["10.0.0.9:8765"]


async def test_cluster_init_writes_a_commented_config_once(tmp_path):
    cfg = tmp_path / "harombe.yaml"
    result = await invoke("cluster", "init", "--config", str(cfg))
    assert result.exit_code == 0, result.output
    assert f"wrote {cfg}" in result.stdout
    assert "no Ollama answers at http://127.0.0.1:11434" in result.stdout  # none runs here
    text = cfg.read_text()
    assert text.startswith("# harombe configuration for")
    assert "no Ollama answers" in text
    loaded = load_config(cfg)
    assert loaded.security.cluster_key and len(loaded.security.cluster_key) >= 40
    assert cfg.stat().st_mode & 0o077 == 0

    refused = await invoke("cluster", "init", "--config", str(cfg))
    assert refused.exit_code == 2
    assert "exists; pass --force" in refused.stderr
    assert cfg.read_text() == text

    forced = await invoke("cluster", "init", "--config", str(cfg), "--force")
    assert forced.exit_code == 0, forced.output
    assert load_config(cfg).security.cluster_key != loaded.security.cluster_key


@pytest.mark.llamacpp
async def test_cluster_test_checks_every_demo_model_peer(cfg_file, llama_server):
    key = {"cluster_key": secrets.token_hex(16)}
    backend = demo_backend(llama_server)
    configs = [node_config(f"d{tier}", tier, backend=backend, security=key) for tier in range(3)]
    async with cluster(*configs) as nodes:
        cfg_file.write_text(
            cfg_file.read_text() + yaml.safe_dump({"security": key}, default_flow_style=False)
        )
        result = await invoke(
            "cluster", "test", "--peer", url_of(nodes[1]), "--config", str(cfg_file)
        )
        assert result.exit_code == 0, result.output
        rows = [line for line in result.stdout.splitlines() if line.startswith(" d")]
        assert len(rows) == 3
        for row in rows:
            assert row.count("yes") == 3 and " ok " in row, row
        assert "3/3 peers passed" in result.stdout


async def test_cluster_test_fails_peers_that_do_not_hold_this_config_s_key(tmp_path):
    key = {"cluster_key": secrets.token_hex(16)}
    async with FakeOpenAI() as fake:
        backend = {"kind": "openai", "url": fake.url, "model": fake.model}
        async with cluster(node_config("keyed", backend=backend, security=key)) as (keyed,):
            test = ("cluster", "test", "--peer", url_of(keyed), "--config")
            wrong = client_config(tmp_path / "w.yaml", security={"cluster_key": "w" * 32})
            result = await invoke(*test, str(wrong))
            assert result.exit_code == 1, result.output
            assert "keyed: authentication: refused this config's key" in result.stdout
            assert "0/1 peer passed" in result.stdout

            keyless = client_config(tmp_path / "n.yaml")
            result = await invoke(*test, str(keyless))
            assert result.exit_code == 1, result.output
            assert "it has a cluster key; this config has none" in result.stdout

            right = client_config(tmp_path / "r.yaml", security=key)
            result = await invoke(*test, str(right))
            assert result.exit_code == 0, result.output
            assert "1/1 peer passed" in result.stdout

        async with cluster(node_config("open", backend=backend)) as (open_peer,):
            test = ("cluster", "test", "--peer", url_of(open_peer), "--config")
            result = await invoke(*test, str(right))
            assert result.exit_code == 1, result.output  # it would admit anyone
            assert "open: authentication: it has no cluster key" in result.stdout
            result = await invoke(*test, str(keyless))
            assert result.exit_code == 0, result.output  # keyless on both sides: said, allowed
            assert " none " in result.stdout and "unauthenticated" in result.stdout


def test_clock_skew_from_the_date_header():
    sent = 1_700_000_000.0
    ahead = email.utils.formatdate(sent + 42, usegmt=True)
    assert clock_skew(ahead, sent, sent + 0.2) == pytest.approx(42.4, abs=0.6)
    assert clock_skew(None, sent, sent) is None
    assert clock_skew("not a date", sent, sent) is None


async def test_cluster_test_with_routers_a_leaver_and_a_failing_backend(cfg_file):
    async with cluster(node_config("router")) as (router,):
        test = ("cluster", "test", "--peer", url_of(router), "--config", str(cfg_file))
        alone = await invoke(*test)
        assert alone.exit_code == 1, alone.output  # nothing in the cluster can answer
        assert "routes only" in alone.stdout and "cannot answer anything" in alone.stdout

        async with FakeOpenAI() as fake:
            backend = {"kind": "openai", "url": fake.url, "model": fake.model}
            async with Node(node_config("worker", backend=backend, seeds=[router.address])):
                await poll(lambda: states(router).get("worker") == "alive", "worker to join")
                both = await invoke(*test)
                assert both.exit_code == 0, both.output  # a router beside a worker is fine
                assert "2/2 peers passed" in both.stdout

                fake.script.append(Reply(status=500))
                broken = await invoke(*test)
                assert broken.exit_code == 1, broken.output
                assert "worker: completion failed: HTTP 5" in broken.stdout
        await poll(lambda: states(router).get("worker") == "left", "worker to leave")
        after = await invoke(*test)
        assert "worker" not in after.stdout  # a peer that left is not tested


async def test_doctor_json_with_no_backend_and_an_unreachable_ollama(tmp_path):
    none = client_config(tmp_path / "none.yaml", backend={"kind": "none"})
    result = await invoke("doctor", "--json", "--config", str(none))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["backend"]["kind"] == "none" and report["backend"]["reachable"] is None
    assert report["hardware"]["cores_logical"] >= 1

    url = f"http://127.0.0.1:{free_port()}"
    gone = client_config(tmp_path / "gone.yaml", backend={"kind": "ollama", "url": url})
    result = await invoke("doctor", "--json", "--config", str(gone))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["backend"]["reachable"] is False and report["backend"]["error"]
    table = await invoke("doctor", "--config", str(gone))
    assert table.exit_code == 0 and "unreachable" in table.stdout
    assert "Traceback" not in table.output


@pytest.mark.llamacpp
async def test_chat_one_shot_answers_and_names_the_node(cfg_file, llama_server):
    configs = [node_config("entry"), node_config("worker", 0, backend=demo_backend(llama_server))]
    async with cluster(*configs) as (entry, _worker):
        result = await invoke(
            "chat", "What is 2+2?", "--peer", url_of(entry), "--config", str(cfg_file)
        )
        assert result.exit_code == 0, result.output
        assert "answered by worker · tier 0" in result.stderr
        assert "Traceback" not in result.output

        piped = await invoke(
            "chat", "--peer", url_of(entry), "--config", str(cfg_file), input="Hi?\n"
        )
        assert piped.exit_code == 0, piped.output
        assert "answered by worker" in piped.stderr

        asked = await invoke(
            "chat", "Hi", "--tier", "2", "--peer", url_of(entry), "--config", str(cfg_file)
        )
        assert asked.exit_code == 0, asked.output
        assert "answered by worker · tier 0 · asked for tier 2" in asked.stderr


async def test_chat_names_the_fallback_when_a_node_fails(cfg_file):
    async with FakeOpenAI() as fast, FakeOpenAI() as steady:
        fast.script.append(Reply(status=500))
        configs = [
            node_config("router"),
            node_config("fast", 0, backend={"kind": "openai", "url": fast.url, "model": "m"}),
            node_config("steady", 1, backend={"kind": "openai", "url": steady.url, "model": "m"}),
        ]
        async with cluster(*configs) as (router, _, _):
            result = await invoke(
                "chat", "Hi!", "--peer", url_of(router), "--config", str(cfg_file)
            )
    assert result.exit_code == 0, result.output
    assert result.stdout == "Hello from fake\n"
    line = result.stderr.strip()
    assert line.startswith("answered by steady · tier 1 · classified tier 0 · fell back fast → ")
    assert "before the first token" in line


async def test_chat_errors_are_one_clear_line(trio, cfg_file):
    url = url_of(trio[0])
    out_of_range = await invoke(
        "chat", "hi", "--tier", "3", "--peer", url, "--config", str(cfg_file)
    )
    assert out_of_range.exit_code == 2
    assert "--tier" in out_of_range.stderr

    no_model = await invoke("chat", "hi", "--peer", url, "--config", str(cfg_file))
    assert no_model.exit_code == 1
    assert no_model.stderr.startswith("error: no peer can answer now: ")
    assert len(no_model.stderr.strip().splitlines()) == 1

    unknown = await invoke(
        "chat", "hi", "--model", "nope:1b", "--peer", url, "--config", str(cfg_file)
    )
    assert unknown.exit_code == 1
    assert "nope:1b" in unknown.stderr and "Traceback" not in unknown.output

    empty = await invoke("chat", "--peer", url, "--config", str(cfg_file), input="")
    assert empty.exit_code == 2 and "nothing to ask" in empty.stderr


@pytest.mark.parametrize("command", [["chat", "hi"], ["peers"], ["cluster", "status"]])
async def test_no_peer_reachable_is_exit_1_with_one_line(cfg_file, command):
    result = await invoke(*command, "--config", str(cfg_file))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: no harombe peer found (tried http://127.0.0.1:")
    assert "mDNS" not in lines[0]  # cluster.mdns is off in this config
    assert "--peer URL" in lines[0]

    gone = await invoke(*command, "--peer", f"127.0.0.1:{free_port()}", "--config", str(cfg_file))
    assert gone.exit_code == 1
    assert "no harombe peer answers at http://127.0.0.1:" in gone.stderr
    assert "connection refused" in gone.stderr


async def test_seeds_are_tried_after_the_local_daemon(tmp_path, trio):
    cfg = client_config(tmp_path / "c.yaml", cluster={"mdns": False, "seeds": [trio[2].address]})
    result = await invoke("peers", "--json", "--config", str(cfg))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["node"] == "gamma"


async def test_mdns_finds_the_nearest_peer_on_loopback(tmp_path):
    from test_mdns import loopback_multicast_works

    if not await asyncio.to_thread(loopback_multicast_works):
        pytest.skip("multicast does not loop back on `lo` on this machine")
    label = f"cli-{secrets.token_hex(4)}"  # concurrent runs on this host stay apart
    mdns = {"label": label, "mdns": True, "mdns_interfaces": ["127.0.0.1"]}
    announced = node_config(f"lan-{label}", cluster=mdns)
    async with Node(announced) as node:
        cfg = client_config(tmp_path / "c.yaml", cluster=mdns)
        url = await find_peer(load_config(cfg), None)
        assert url == url_of(node)
        other = client_config(tmp_path / "o.yaml", cluster={**mdns, "label": f"x-{label}"})
        result = await invoke("peers", "--config", str(other))
        assert result.exit_code == 1
        assert "mDNS on 127.0.0.1" in result.stderr


async def test_status_survives_hostile_names(trio, cfg_file):
    status = await get_status(url_of(trio[0]))
    status["nodes"][0]["name"] = "[bold red]evil[/]"
    from rich.console import Console

    from harombe.cli.peers import peers_table

    console = Console(record=True, width=200)
    console.print(peers_table(status))
    assert "[bold red]evil[/]" in console.export_text()


def test_peers_shows_a_draining_node_apart_from_an_excluded_one():
    from rich.console import Console

    from harombe.cli.peers import peers_table

    def row(name: str, **flags: bool) -> dict:
        return {"name": name, "state": "alive", "tier": 0, "address": "127.0.0.1:1", **flags}

    status = {
        "node": "a",
        "nodes": [row("a"), row("b", excluded=True), row("c", excluded=True, draining=True)],
    }
    console = Console(record=True, width=200)
    console.print(peers_table(status))
    lines = {line.split()[0]: line for line in console.export_text().splitlines() if line.strip()}
    assert "(" not in lines["a"]
    assert "alive (excluded)" in lines["b"]
    assert "alive (draining)" in lines["c"] and "excluded" not in lines["c"]

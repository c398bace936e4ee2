"""`harombe cluster remove NAME` on a live three-peer cluster of `harombed` processes: the whole
cluster stops routing to NAME, the exclusion survives a restart, `cluster add` lifts it."""

from __future__ import annotations

import aiohttp
import yaml
from support.cli_support import Harombed, get_status, invoke, poll

from harombe.config import load_config
from sim.fake_openai import FakeOpenAI


def peer_file(path, port: int, seeds: list[str]) -> str:
    path.write_text(
        "# this machine's peer\n"
        f"server:\n  host: 127.0.0.1\n  port: {port}\n"
        "cluster:\n"
        "  mdns: false\n"
        f"  seeds: {yaml.safe_dump(seeds, default_flow_style=True).strip()}   # other peers\n"
        "  membership:\n    profile: local\n"
    )
    return str(path)


async def served_by(url: str) -> str:
    """The node answering a request for tier 2 (w2's; w1, on tier 0, is the fallback)."""
    chat = {"model": "tier-2", "messages": [{"role": "user", "content": "hi"}], "stream": False}
    async with aiohttp.ClientSession() as http, http.post(f"{url}/api/chat", json=chat) as resp:
        assert resp.status == 200, await resp.text()
        return resp.headers["X-Harombe-Node"]


async def excluded_in(url: str) -> dict[str, bool]:
    return {n["name"]: n["excluded"] for n in (await get_status(url))["nodes"]}


async def test_remove_stops_the_live_cluster_routing_to_a_node_until_add(tmp_path):
    async with FakeOpenAI() as fake:
        backend = ("--backend", "openai", "--backend-url", fake.url, "--model", fake.model)
        entry = Harombed(tmp_path, "entry", "--backend", "none")
        workers = [
            Harombed(tmp_path, name, *backend, "--tier", str(tier))
            for name, tier in (("w1", 0), ("w2", 2))
        ]
        seeds = [f"127.0.0.1:{p.port}" for p in (entry, *workers)]
        config = peer_file(tmp_path / "entry.yaml", entry.port, seeds[1:])
        entry.args += ["--config", config]
        for worker in workers:
            worker.args += ["--seed", seeds[0]]
        peers = [entry, *workers]
        try:
            for p in peers:
                p.start()
            for p in peers:
                await p.wait_healthy()

            async def all_serve() -> bool:
                views = [await excluded_in(p.url) for p in peers]
                return all(set(v) == {"entry", "w1", "w2"} for v in views)

            await poll(all_serve, "the three peers to see each other")

            async def w1_serves(url: str) -> bool:
                return await served_by(url) == "w1"

            async def w2_serves() -> bool:
                return await served_by(entry.url) == "w2"

            await poll(w2_serves, "w2 to serve tier 2")

            removed = await invoke("cluster", "remove", "w2", "--config", config)
            assert removed.exit_code == 0, removed.output
            assert "the cluster stops routing to w2" in removed.stdout
            saved = load_config(config, environ={})
            assert saved.cluster.excluded == ["w2"] and seeds[2] not in saved.cluster.seeds
            assert "# other peers" in (tmp_path / "entry.yaml").read_text()  # comments kept

            async def everywhere(excluded: bool) -> bool:
                views = [await excluded_in(p.url) for p in peers]
                return all(view.get("w2") is excluded for view in views)

            await poll(lambda: everywhere(True), "every peer to learn w2 is excluded")
            for p in peers:  # w2 itself too: it hands its own requests to w1
                # Routing re-reads the view within routing.view_max_age of the status.
                await poll(lambda p=p: w1_serves(p.url), f"{p.name} to route around w2")
                assert {await served_by(p.url) for _ in range(3)} == {"w1"}

            entry.stop()  # the exclusion is kept in the entry's config
            entry.start()
            await entry.wait_healthy()
            await poll(lambda: everywhere(True), "the restarted entry to exclude w2 again")
            assert await served_by(entry.url) == "w1"

            added = await invoke("cluster", "add", seeds[2], "--config", config)
            assert added.exit_code == 0, added.output
            assert "no longer excluded: w2" in added.stdout
            assert load_config(config, environ={}).cluster.excluded == []
            await poll(lambda: everywhere(False), "every peer to route to w2 again")
            await poll(w2_serves, "a request to reach w2 again")
        finally:
            for p in peers:
                p.stop()

"""`harombe route`: the decision and its reasons from a running peer, nothing sent."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from support.cli_support import poll
from test_daemon import peer_config, states

from harombe.daemon import Node


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from harombe.cli.main import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_route_explains_tier_candidates_and_choice():
    async with (
        Node(peer_config("r0")) as first,
        Node(peer_config("r2", 2, [first.address])) as second,
    ):
        await poll(lambda: states(first).get("r2") == "alive", "r0 to see r2")
        url = f"http://{first.address}"
        prompt = "Compare these 10 papers and find common patterns across all of them."
        proc = await asyncio.to_thread(run_cli, "route", prompt, "--peer", url, "--json")
        assert proc.returncode == 0, proc.stderr
        decision = json.loads(proc.stdout)
        assert decision["classified_tier"] == 2
        assert decision["reasons"]
        assert "est_tokens" in decision["features"]
        assert decision["order"][0].startswith("tier 2")
        rows = {row["node"]: row for row in decision["candidates"]}
        assert rows["r2"]["tier"] == 2
        # Neither test peer has a backend, so none can serve: the reason says why.
        assert rows["r2"]["skipped"] == "backend down"
        assert decision["node"] is None
        table = await asyncio.to_thread(run_cli, "route", prompt, "--peer", url)
        assert "classified: tier 2" in table.stdout and "backend down" in table.stdout
        assert second.name == "r2"


def test_route_without_a_peer_is_a_clear_error():
    proc = run_cli("route", "hello", "--peer", "http://127.0.0.1:9")
    assert proc.returncode == 1
    assert "no harombe peer answers" in proc.stderr
    assert "Traceback" not in proc.stderr

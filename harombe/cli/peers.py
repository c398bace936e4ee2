"""`harombe peers`: the gossip view of the nearest peer, as a table, JSON or a live view."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from harombe.cli.client import get_json

WATCH_INTERVAL_S = 1.0
STATE_STYLE = {"alive": "green", "suspect": "yellow", "dead": "red", "left": "dim"}


def peers_table(status: dict[str, Any]) -> Table:
    table = Table(title=f"harombe cluster seen from {status.get('node', '?')}", expand=False)
    for column in (
        "name",
        "state",
        "tier",
        "address",
        "models",
        "load",
        "rtt ms",
        "updated",
        "breaker",
    ):
        table.add_column(column, no_wrap=column != "models")
    for node in sorted(status.get("nodes", []), key=lambda n: (n.get("tier") or 0, n["name"])):
        state = node.get("state", "?")
        rtt = node.get("rtt_ms")
        name = node["name"] + (" *" if node.get("self") else "")
        table.add_row(
            name,
            f"[{STATE_STYLE.get(state, 'white')}]{state}[/]",
            str(node.get("tier", "")),
            node.get("address", ""),
            ", ".join(node.get("models") or []) or "-",
            f"{node.get('active', 0)}/{node.get('capacity', 0)}"
            + (f" +{node['queue']}q" if node.get("queue") else ""),
            "-" if rtt is None else f"{rtt:.1f}",
            f"{node.get('last_update_s', 0):.0f}s ago",
            node.get("breaker", "closed"),
        )
    return table


async def show_peers(url: str, *, as_json: bool, watch: bool, console: Console) -> None:
    status = await get_json(url, "/cluster/status")
    if as_json:
        print(json.dumps(status, indent=2))
        return
    if not watch:
        console.print(peers_table(status))
        return
    with Live(peers_table(status), console=console, refresh_per_second=4) as live:
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            live.update(peers_table(await get_json(url, "/cluster/status")))

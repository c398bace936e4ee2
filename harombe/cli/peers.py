"""`harombe peers`: the gossip view of the nearest peer, as a table, JSON or a live view."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from rich import box
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from harombe.cli.client import get_json

WATCH_INTERVAL_S = 1.0
STATE_STYLE = {
    "alive": "green",
    "suspect": "yellow",
    "dead": "red",
    "left": "dim",
    "unreachable": "red",
}


COLUMNS = ("name", "state", "tier", "address", "load", "rtt ms", "models")


def peers_table(status: dict[str, Any]) -> Table:
    """One row per node of the peer's view; "*" marks the peer itself. A breaker column shows
    only while some circuit breaker is not closed. Names, addresses and models come from
    gossip: shown as text, never read as markup. `harombe peers --json` has every field."""
    nodes = sorted(status.get("nodes", []), key=lambda n: (n.get("tier") or 0, str(n.get("name"))))
    breakers = any(n.get("breaker", "closed") != "closed" for n in nodes)
    unauthenticated = (
        " [bold yellow](unauthenticated)[/]" if status.get("auth") == ("unauthenticated") else ""
    )
    table = Table(
        title=f"harombe cluster seen from {escape(str(status.get('node', '?')))}" + unauthenticated,
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
    )
    for column in (*COLUMNS, "breaker") if breakers else COLUMNS:
        wraps = column in ("name", "address", "models")
        table.add_column(column, no_wrap=not wraps, overflow="fold", min_width=4 if wraps else None)
    for node in nodes:
        state = str(node.get("state", "?")) + (
            " (draining)" if node.get("draining") else " (excluded)" if node.get("excluded") else ""
        )
        rtt = node.get("rtt_ms")
        name = str(node.get("name", "?")) + (" *" if node.get("self") else "")
        if node.get("via"):  # a plain inference server, reached through a peer
            name += f"\n{node.get('kind') or 'plain'} via {node['via']}"
        row = [
            escape(name),
            f"[{STATE_STYLE.get(state.split()[0], 'white')}]{escape(state)}[/]",
            str(node.get("tier", "")),
            escape(str(node.get("address", ""))),
            f"{node.get('active', 0)}/{node.get('capacity', 0)}"
            + (f" +{node['queue']}q" if node.get("queue") else ""),
            "-" if rtt is None else f"{rtt:.1f}",
            escape(_models_cell(node)),
        ]
        if breakers:
            row.append(escape(str(node.get("breaker", "closed"))))
        table.add_row(*row)
    return table


def _models_cell(node: dict[str, Any]) -> str:
    models = "\n".join(node.get("models") or [])
    if node.get("backend_ok"):
        return models or "-"
    return f"{models}\n(backend down)" if models else "no backend"


async def show_peers(url: str, *, as_json: bool, watch: bool, console: Console) -> None:
    status = await get_json(url, "/cluster/status")
    if as_json:
        print(json.dumps(status, indent=2))
        return
    if not watch:
        console.print(peers_table(status))
        return
    if not console.is_interactive:  # a pipe or a dumb terminal: one table per interval
        while True:
            console.print(peers_table(status))
            await asyncio.sleep(WATCH_INTERVAL_S)
            status = await get_json(url, "/cluster/status")
    with Live(peers_table(status), console=console, refresh_per_second=4) as live:
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            live.update(peers_table(await get_json(url, "/cluster/status")))

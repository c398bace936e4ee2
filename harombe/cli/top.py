"""`harombe top`: a live terminal view of the cluster and of the requests the peer routed.

Reads the peer's `/cluster/status` (every node: tier, models, load, tokens/s, utilisation,
breaker, state) and `/cluster/stats?recent=N` (this peer's last minute and recent requests),
once per interval. Names and models come from gossip: shown as text, never read as markup.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from harombe.cli.client import get_json
from harombe.cli.peers import STATE_STYLE

RECENT_ROWS = 12
COLUMNS = ("node", "state", "tier", "models", "load", "tok/s", "CPU", "RAM", "GPU",
           "age")  # fmt: skip
"""The node table's columns; "breaker" is added while some circuit breaker is not closed.
"*" marks the peer asked; a loaded model has "*" too; age: of the utilisation sample."""
GIB = 1024**3
OUTCOME_STYLE = {"ok": "green", "client_error": "yellow", "cancelled": "dim"}


async def fetch(url: str, *, cluster: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """The peer's view and its statistics (with `cluster`: every peer's added up; the recent
    requests stay the peer's own)."""
    query = f"recent={RECENT_ROWS}" + ("&cluster=1" if cluster else "")
    status, stats = await asyncio.gather(
        get_json(url, "/cluster/status"), get_json(url, f"/cluster/stats?{query}")
    )
    return status, stats


def _pct(ratio: float | None) -> str:
    return "?" if ratio is None else f"{ratio * 100:.0f}%"


def _gib(n: int | None) -> str:
    return "?" if n is None else f"{n / GIB:.1f}"


def _seconds(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{s * 1000:.0f}ms" if s < 1 else f"{s:.2f}s"


def _utilisation_cells(node: dict[str, Any]) -> tuple[str, str, str]:
    """(CPU, RAM, GPU) cells; "?" where the node reports nothing (unknown, not idle)."""
    u = node.get("utilisation")
    if not u:
        return "?", "?", "?"
    ram = f"{_gib(u.get('ram_used_bytes'))}/{_gib(u.get('ram_total_bytes'))}G"
    gpus = [
        f"{_pct(g.get('util'))} {_gib(g.get('vram_used_bytes'))}/{_gib(g.get('vram_total_bytes'))}G"
        for g in u.get("gpus", [])
    ]
    return _pct(u.get("cpu")), ram, "\n".join(gpus) or "-"


def nodes_table(status: dict[str, Any]) -> Table:
    table = Table(
        title=f"harombe top — cluster seen from {escape(str(status.get('node', '?')))}",
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
    )
    nodes = sorted(status.get("nodes", []), key=lambda n: (n.get("tier") or 0, str(n.get("name"))))
    breakers = any(n.get("breaker", "closed") != "closed" for n in nodes)
    for column in COLUMNS + (("breaker",) if breakers else ()):
        wraps = column in ("node", "models", "GPU")
        table.add_column(column, overflow="fold", no_wrap=not wraps)
    for node in nodes:
        state = str(node.get("state", "?"))
        tps = node.get("tps") or {}
        cpu, ram, gpu = _utilisation_cells(node)
        age = node.get("utilisation_age_s")
        breaker = str(node.get("breaker", "closed"))
        loaded = set(node.get("loaded") or [])
        models = [m + ("*" if m in loaded else "") for m in node.get("models") or []]
        row = [
            escape(str(node.get("name", "?")) + ("*" if node.get("self") else "")),
            f"[{STATE_STYLE.get(state, 'white')}]{escape(state)}[/]",
            str(node.get("tier", "")),
            escape("\n".join(models) or ("-" if node.get("backend_ok") else "no backend")),
            f"{node.get('active', 0)}/{node.get('capacity', 0)}"
            + (f" +{node['queue']}q" if node.get("queue") else ""),
            f"{max(tps.values()):.0f}" if tps else "-",
            cpu,
            ram,
            gpu,
            "-" if age is None else f"{age:.0f}s",
        ]
        if breakers:
            row.append(breaker if breaker == "closed" else f"[red]{escape(breaker)}[/]")
        table.add_row(*row)
    return table


def summary_line(stats: dict[str, Any]) -> Text:
    w = stats.get("windows", {}).get("minute", {})
    latency = w.get("latency_s", {})
    by_node = ", ".join(f"{k} {v}" for k, v in sorted(w.get("by_node", {}).items()))
    scope = "every peer" if stats.get("scope") == "cluster" else "this peer"
    return Text(
        f"last minute, routed by {scope}: {w.get('requests', 0)} requests, "
        f"{w.get('error_rate', 0):.0%} errors, "
        f"{w.get('fallback_rate', 0):.0%} with fallback, p50 {_seconds(latency.get('p50'))}, "
        f"p99 {_seconds(latency.get('p99'))}" + (f"; by node: {by_node}" if by_node else "")
    )


def recent_table(stats: dict[str, Any]) -> Table:
    table = Table(title="recent requests routed by this peer (newest first)", box=box.SIMPLE_HEAD)
    for column in ("time", "api", "node", "tier", "outcome", "first", "total", "fallbacks"):
        table.add_column(column, overflow="fold")
    for r in stats.get("recent", []):
        outcome = str(r.get("outcome", "?"))
        tier = "-" if r.get("tier") is None else str(r["tier"])
        if r.get("classified_tier") not in (None, r.get("tier")):
            tier = f"{r['classified_tier']}→{tier}"
        table.add_row(
            time.strftime("%H:%M:%S", time.localtime(r.get("at", 0))),
            escape(str(r.get("api", ""))),
            escape(str(r.get("node") or "-")),
            tier,
            f"[{OUTCOME_STYLE.get(outcome, 'red')}]{escape(outcome)}[/]",
            _seconds(r.get("ttft_s")),
            _seconds(r.get("duration_s")),
            escape(", ".join(r.get("fallbacks") or []) or "-"),
        )
    return table


def render(status: dict[str, Any], stats: dict[str, Any]) -> Group:
    return Group(nodes_table(status), summary_line(stats), recent_table(stats))


async def run_top(
    url: str, *, console: Console, interval: float, once: bool, cluster: bool = False
) -> None:
    """One frame (`once`, or when output is not a terminal: one frame per interval), else a
    live view until Ctrl-C."""
    frame = render(*await fetch(url, cluster=cluster))
    if once:
        console.print(frame)
        return
    if not console.is_interactive:
        while True:
            console.print(frame)
            await asyncio.sleep(interval)
            frame = render(*await fetch(url, cluster=cluster))
    with Live(frame, console=console, refresh_per_second=4, screen=False) as live:
        while True:
            await asyncio.sleep(interval)
            live.update(render(*await fetch(url, cluster=cluster)))

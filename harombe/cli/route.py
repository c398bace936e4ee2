"""`harombe route "PROMPT"`: where a query would go and why, without running it."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harombe.cli.client import post_json


async def fetch_decision(
    url: str, prompt: str, *, tier: int | None, model: str | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"query": prompt}
    if tier is not None:
        body["prefer_tier"] = tier
    if model:
        body["model"] = model
    return await post_json(url, "/cluster/route", body)


def render_decision(decision: dict[str, Any], console: Console, as_json: bool) -> None:
    if as_json:
        print(json.dumps(decision, indent=2))
        return
    classified = decision.get("classified_tier")
    if classified is not None:
        console.print(f"classified: tier {classified}")
        for reason in decision.get("reasons") or []:
            console.print(f"  - {reason}", markup=False, highlight=False)
        features = decision.get("features") or {}
        shown = {
            k: v
            for k, v in features.items()
            if k in ("est_tokens", "context_tier", "task_tier", "has_code", "language")
        }
        if shown:
            text = "  " + ", ".join(f"{k}={v}" for k, v in shown.items())
            console.print(text, style="dim", markup=False)
    if decision.get("wanted_tier") is not None and decision.get("wanted_tier") != classified:
        console.print(f"preferred tier: {decision['wanted_tier']}")
    console.print(f"order tried: {' → '.join(decision.get('order') or [])}", markup=False)
    table = Table(show_header=True, box=None)
    for column in ("group", "node", "tier", "expected wait s", "status"):
        table.add_column(column)
    for row in decision.get("candidates") or []:
        wait = row.get("expected_wait_s")
        chosen = row.get("node") == decision.get("node")
        table.add_row(
            escape(row.get("group", "")),
            f"[bold]{escape(row['node'])}[/]" + (" ← chosen" if chosen else ""),
            str(row.get("tier")),
            "-" if wait is None else f"{wait:.3f}",
            row.get("skipped") or "ready",
        )
    console.print(table)
    if decision.get("node"):
        console.print(f"→ [bold cyan]{escape(decision['node'])}[/] (tier {decision.get('tier')})")
    elif decision.get("all_busy"):
        console.print("→ every usable node is busy: the query would wait in the queue")
    else:
        console.print("→ [red]no node can serve it now[/]")

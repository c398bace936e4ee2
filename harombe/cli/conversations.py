"""`harombe conversations`: the stored agent conversations — list, show, delete.

Listing shows the conversations the asked peer owns; show and delete take an id, which names
its owner, so any peer passes them on to it.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import aiohttp
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harombe.cli.client import (
    PROBE_TIMEOUT_S,
    PeerUnreachable,
    client_session,
    find_peer,
    get_json,
    unreachable,
)
from harombe.cli.common import fail, load_or_exit

conversations_app = typer.Typer(help="Stored agent conversations (`harombe chat --new`).")
console = Console()

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Config file.")]
PeerOpt = Annotated[str | None, typer.Option("--peer", help="URL or HOST:PORT of the peer.")]
IdArg = Annotated[str, typer.Argument(metavar="ID", help="The conversation's id.")]


def _peer(config: Path | None, peer: str | None) -> str:
    cfg = load_or_exit(config)
    return _run(find_peer(cfg, peer))


def _run(coro: Any) -> Any:
    try:
        return asyncio.run(coro)
    except PeerUnreachable as exc:
        fail(str(exc), code=1)


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


@conversations_app.callback(invoke_without_command=True)
def list_conversations(
    ctx: typer.Context,
    config: ConfigOpt = None,
    peer: PeerOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON.")] = False,
) -> None:
    """List the conversations the peer owns (newest first)."""
    if ctx.invoked_subcommand is not None:
        return
    url = _peer(config, peer)
    data = _run(get_json(url, "/conversations"))
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    table = Table(title=f"conversations on {escape(str(data.get('node')))}")
    for column in ("id", "title", "turns", "updated"):
        table.add_column(column)
    for c in data.get("conversations", []):
        table.add_row(escape(c["id"]), escape(c["title"]), str(c["turns"]), _when(c["updated"]))
    console.print(table)


@conversations_app.command("show")
def show(conversation: IdArg, config: ConfigOpt = None, peer: PeerOpt = None) -> None:
    """Show a conversation: its messages, tool calls and where each step ran."""
    url = _peer(config, peer)
    data = _run(_request(url, "GET", conversation))
    console.print(f"[bold]{escape(data['title'])}[/] ({escape(data['id'])})", highlight=False)
    turns = {t["turn"]: t for t in data.get("turns", [])}
    shown: set[int] = set()
    for message in data.get("messages", []):
        turn = message.get("turn")
        if turn in turns and turn not in shown:
            shown.add(turn)
            steps = " · ".join(
                f"{s.get('node')} tier {s.get('tier')}" for s in turns[turn].get("steps", [])
            )
            console.print(f"[dim]turn {turn}: {escape(steps or 'no model call')}[/]")
        _print_message(message)


def _print_message(message: dict[str, Any]) -> None:
    role = message.get("role")
    if message.get("tool_calls"):
        for call in message["tool_calls"]:
            text = f"→ {call['name']} {json.dumps(call['arguments'])}"
            console.print(f"[dim]{escape(text)}[/]", highlight=False)
    elif role == "tool":
        preview = message.get("content", "").strip().replace("\n", " ⏎ ")[:200]
        console.print(f"[dim]← {escape(preview)}[/]", highlight=False)
    else:
        console.print(f"[bold]{role}:[/] {escape(message.get('content', ''))}", highlight=False)


@conversations_app.command("delete")
def delete(conversation: IdArg, config: ConfigOpt = None, peer: PeerOpt = None) -> None:
    """Delete a conversation for good."""
    url = _peer(config, peer)
    _run(_request(url, "DELETE", conversation))
    console.print(f"deleted {escape(conversation)}", highlight=False)


async def _request(url: str, method: str, conversation: str) -> Any:
    path = f"/conversations/{conversation}"
    try:
        async with client_session(aiohttp.ClientTimeout(total=PROBE_TIMEOUT_S * 4)) as http:
            async with http.request(method, url + path) as resp:
                data = await resp.json(content_type=None)
                if resp.status != 200:
                    message = data.get("error") if isinstance(data, dict) else data
                    raise PeerUnreachable(str(message))
                return data
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise PeerUnreachable(unreachable(url, exc)) from None

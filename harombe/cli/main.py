"""`harombe`: the command line a person uses (chat, peers, route, cluster, demo, doctor)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from harombe import __version__
from harombe.cli.client import PeerUnreachable, find_peer
from harombe.cli.common import fail, load_or_exit

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="harombe: one LLM service across your own machines.",
)
console = Console()

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Config file.")]
PeerOpt = Annotated[
    str | None, typer.Option("--peer", help="URL of the peer to ask (default: the local daemon).")
]


def _run(coro):
    try:
        return asyncio.run(coro)
    except PeerUnreachable as exc:
        fail(str(exc), code=1)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


@app.command()
def version() -> None:
    """Print harombe's version."""
    typer.echo(f"harombe {__version__}")


@app.command()
def doctor(
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Check this machine: hardware, GPUs, the local backend and its models, a recommendation."""
    from harombe.cli.doctor import render, run_doctor
    from harombe.inference.factory import open_backend

    cfg = load_or_exit(config)

    async def go():
        backend = None
        with contextlib.suppress(Exception):
            backend = await open_backend(cfg.backend)
        try:
            return await run_doctor(cfg, backend)
        finally:
            if backend is not None:
                await backend.aclose()

    report = _run(go())
    if as_json:
        typer.echo(report.as_json())
    else:
        render(report, console)


@app.command()
def peers(
    config: ConfigOpt = None,
    peer: PeerOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the view as JSON.")] = False,
    watch: Annotated[
        bool, typer.Option("--watch", help="Keep the table live (Ctrl-C ends).")
    ] = False,
) -> None:
    """Show the cluster as the nearest peer sees it: who is alive, tiers, load, RTT."""
    from harombe.cli.peers import show_peers

    cfg = load_or_exit(config)

    async def go():
        url = await find_peer(cfg, peer)
        await show_peers(url, as_json=as_json, watch=watch, console=console)

    _run(go())


@app.command()
def chat(
    question: Annotated[str | None, typer.Argument(help="Ask one question and exit.")] = None,
    config: ConfigOpt = None,
    peer: PeerOpt = None,
    tier: Annotated[int | None, typer.Option(min=0, max=2, help="Prefer this tier.")] = None,
    model: Annotated[str | None, typer.Option(help="Ask for this model.")] = None,
) -> None:
    """Chat with the cluster. With a QUESTION (or piped stdin) answer once and exit."""
    from harombe.cli.chat import ChatSession, ask_once, interactive, read_stdin_question

    cfg = load_or_exit(config)
    url = _run(find_peer(cfg, peer))
    session = ChatSession(url=url, tier=tier, model=model)
    err = Console(stderr=True)
    question = question or read_stdin_question()
    if question:
        raise typer.Exit(ask_once(session, question, console, err))
    interactive(session, console, err)


@app.command()
def demo() -> None:
    """Three peers on this machine (tiers 0-2, tiny demo model): routing, a kill, the fallback."""
    from harombe.cli.demo import run_demo

    raise typer.Exit(run_demo(console))


cluster_app = typer.Typer(no_args_is_help=True, help="Set up and check a cluster.")
app.add_typer(cluster_app, name="cluster")


@cluster_app.command("init")
def cluster_init(
    config: ConfigOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented config for this machine: hardware, tier, model, a fresh cluster key."""
    from harombe.cli.cluster import config_path, init_config_text, write_private

    path = config_path(config)
    if path.exists() and not force:
        fail(f"{path} exists; pass --force to overwrite it")
    text, summary = _run(init_config_text())
    write_private(path, text)
    console.print(f"wrote {path} ({summary})")
    console.print("copy security.cluster_key to your other machines, then start `harombed`")


@cluster_app.command("status")
def cluster_status(config: ConfigOpt = None, peer: PeerOpt = None) -> None:
    """One-paragraph summary of the cluster, then the peers table."""
    from harombe.cli.client import get_json
    from harombe.cli.cluster import status_summary
    from harombe.cli.peers import peers_table

    cfg = load_or_exit(config)

    async def go():
        return await get_json(await find_peer(cfg, peer), "/cluster/status")

    status = _run(go())
    console.print(status_summary(status))
    console.print(peers_table(status))


@cluster_app.command("add")
def cluster_add(
    address: Annotated[str, typer.Argument(help="HOST[:PORT] of a peer to join.")],
    config: ConfigOpt = None,
    peer: PeerOpt = None,
) -> None:
    """Add a seed to the config and tell the running daemon to join it."""
    from harombe.cli.cluster import add_seed, config_path, tell_daemon_join
    from harombe.config import parse_address

    try:
        address = parse_address(address)
    except ValueError as exc:
        fail(str(exc))
    path = config_path(config)
    added = add_seed(path, address)
    console.print(f"{'added' if added else 'already listed'}: {address} in {path}")
    cfg = load_or_exit(config)

    async def go():
        url = await find_peer(cfg, peer)
        await tell_daemon_join(url, address)
        return url

    try:
        url = asyncio.run(go())
        console.print(f"the daemon at {url} is joining {address}")
    except PeerUnreachable as exc:
        console.print(f"[yellow]no running daemon told ({exc}); it joins at its next start[/]")


@cluster_app.command("remove")
def cluster_remove(
    name: Annotated[str, typer.Argument(help="Seed address or listed node name.")],
    config: ConfigOpt = None,
) -> None:
    """Remove a seed or listed node from the config (a running peer gossips until it leaves)."""
    from harombe.cli.cluster import config_path, remove_seed

    path = config_path(config)
    removed = remove_seed(path, name)
    if not removed:
        fail(f"{name} is not a seed or node in {path}", code=1)
    console.print(f"removed {', '.join(removed)} from {path}")


@cluster_app.command("test")
def cluster_test(config: ConfigOpt = None, peer: PeerOpt = None) -> None:
    """Check every peer: reachable, admitted (same key), backend healthy, RTT, one completion."""
    from harombe.cli.cluster import test_cluster

    cfg = load_or_exit(config)

    async def go():
        return await test_cluster(await find_peer(cfg, peer), cfg, console)

    if not _run(go()):
        raise typer.Exit(1)


def main() -> None:
    app()

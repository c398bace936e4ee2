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


def main() -> None:
    app()

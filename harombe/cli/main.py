"""`harombe`: the command line a person uses (chat, conversations, peers, top, route, cluster,
demo, doctor)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from harombe import __version__
from harombe.cli.client import PeerUnreachable, find_peer, trust_ca
from harombe.cli.common import Group, err_console, fail, load_or_exit
from harombe.cli.conversations import conversations_app

app = typer.Typer(
    cls=Group,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="harombe: one LLM service across your own machines.",
)
console = Console()

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", help="Config file (default: $HAROMBE_CONFIG, ~/.harombe/harombe.yaml)."
    ),
]
PeerOpt = Annotated[
    str | None,
    typer.Option(
        "--peer",
        help="URL or HOST:PORT of the peer to ask (default: the local daemon, else the nearest "
        "peer found by mDNS, else a configured seed).",
    ),
]
TierOpt = Annotated[
    int | None, typer.Option(min=0, max=2, help="Prefer this tier: 0 fast, 1 balanced, 2 capable.")
]
ModelOpt = Annotated[
    str | None, typer.Option(help="Ask for this model (only peers serving it answer).")
]


@app.callback()
def _global_options(
    ca: Annotated[
        Path | None,
        typer.Option(
            "--ca",
            envvar="HAROMBE_CA",
            help="CA certificate to verify HTTPS peers against (their `tls.ca`).",
        ),
    ] = None,
) -> None:
    """Options for every command. The API key comes from $HAROMBE_API_KEY."""
    trust_ca(ca)


def _run(coro, *, interrupted: int = 130):
    """Run `coro`; an unreachable peer becomes one error line (exit 1), Ctrl-C `interrupted`."""
    try:
        return asyncio.run(coro)
    except PeerUnreachable as exc:
        fail(str(exc), code=1)
    except KeyboardInterrupt:
        raise typer.Exit(interrupted) from None


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
        if cfg.backend.kind != "none":  # the report says "none configured" by itself
            try:
                backend = await open_backend(cfg.backend)
            # The doctor explains failures: whatever opening raises becomes a line, not a crash.
            except Exception as exc:
                err_console.print(
                    f"[yellow]could not open the {cfg.backend.kind} backend:[/] "
                    f"{escape(str(exc) or type(exc).__name__)}",
                    soft_wrap=True,
                )
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

    _run(go(), interrupted=0 if watch else 130)


@app.command()
def chat(
    question: Annotated[
        str | None, typer.Argument(metavar="QUESTION", help="Ask one question and exit.")
    ] = None,
    config: ConfigOpt = None,
    peer: PeerOpt = None,
    tier: TierOpt = None,
    model: ModelOpt = None,
    new: Annotated[
        bool, typer.Option("--new", help="Start a stored conversation (through the agent).")
    ] = False,
    resume: Annotated[
        str | None,
        typer.Option("--resume", metavar="ID", help="Continue the stored conversation ID."),
    ] = None,
    tools: Annotated[
        bool, typer.Option("--tools", help="Let the agent use its tools (files, shell, web).")
    ] = False,
) -> None:
    """Chat with the cluster through the nearest peer.

    With a QUESTION (or a question piped on stdin) answer once and exit: the answer goes to
    stdout, the line naming the node to stderr. Without, an interactive session (/help).
    --new, --resume ID and --tools talk to the agent in a conversation the peer stores
    (`harombe conversations` lists them); each step's node and tier and each tool call show.
    """
    from harombe.cli.chat import ChatSession, ask_once, interactive, stdin_question

    cfg = load_or_exit(config)
    if not question:
        try:
            question = stdin_question()
        except ValueError as exc:
            fail(str(exc))
    url = _run(find_peer(cfg, peer))
    if new and resume:
        fail("--new and --resume exclude each other")
    agent = new or tools or resume is not None
    session = ChatSession(
        url=url, tier=tier, model=model, agent=agent, tools=tools, conversation=resume
    )
    err = Console(stderr=True)
    if question:
        raise typer.Exit(ask_once(session, question, console, err))
    interactive(session, console, err)


@app.command()
def top(
    config: ConfigOpt = None,
    peer: PeerOpt = None,
    interval: Annotated[float, typer.Option(min=0.2, help="Seconds between refreshes.")] = 1.0,
    once: Annotated[bool, typer.Option("--once", help="Print one frame and exit.")] = False,
    cluster: Annotated[
        bool, typer.Option("--cluster", help="Statistics of every peer added up, not this one's.")
    ] = False,
) -> None:
    """Live view of the cluster (tier, models, load, GPU/VRAM, tokens/s, breaker, state) and of
    the requests the peer routed (node, tier, latency, fallback)."""
    from harombe.cli.top import run_top

    cfg = load_or_exit(config)

    async def go():
        url = await find_peer(cfg, peer)
        await run_top(url, console=console, interval=interval, once=once, cluster=cluster)

    _run(go(), interrupted=0 if not once else 130)


@app.command()
def route(
    prompt: Annotated[str, typer.Argument(help="The query to route.")],
    config: ConfigOpt = None,
    peer: PeerOpt = None,
    tier: TierOpt = None,
    model: ModelOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision as JSON.")] = False,
) -> None:
    """Show where PROMPT would go and why (features, tier, candidates, choice); runs nothing."""
    from harombe.cli.route import fetch_decision, render_decision

    cfg = load_or_exit(config)

    async def go():
        url = await find_peer(cfg, peer)
        return await fetch_decision(url, prompt, tier=tier, model=model)

    render_decision(_run(go()), console, as_json)


@app.command()
def demo() -> None:
    """Three peers on this machine (tiers 0-2, tiny demo model): routing, a kill, the fallback."""
    from harombe.cli.demo import run_demo

    raise typer.Exit(run_demo(console))


app.add_typer(conversations_app, name="conversations")

cluster_app = typer.Typer(no_args_is_help=True, help="Set up and check a cluster.")
app.add_typer(cluster_app, name="cluster")


@cluster_app.command("init")
def cluster_init(
    config: ConfigOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented config for this machine: hardware, tier, model, a fresh cluster key."""
    from harombe.cli.cluster import OLLAMA_URL, config_path, plan_init, write_private

    path = config_path(config)
    if path.exists() and not force:
        fail(f"{path} exists; pass --force to overwrite it")
    plan = _run(plan_init())
    write_private(path, plan.text)
    console.print(f"wrote {path} ({plan.summary()})", markup=False, highlight=False, soft_wrap=True)
    if plan.ollama_models is None:
        console.print(
            f"[yellow]no Ollama answers at {OLLAMA_URL}:[/] install or start it, or set "
            "backend.kind in the file to your inference server"
        )
    elif not plan.ollama_models:
        console.print(f"[yellow]Ollama has no models yet:[/] ollama pull {plan.model}")
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
    console.print(status_summary(status), markup=False, highlight=False, soft_wrap=True)
    console.print(peers_table(status))


@cluster_app.command("add")
def cluster_add(
    address: Annotated[
        str, typer.Argument(metavar="ADDRESS", help="HOST[:PORT] of a peer to join.")
    ],
    config: ConfigOpt = None,
    peer: Annotated[
        str | None,
        typer.Option("--peer", help="URL of the daemon on this machine to tell (default: local)."),
    ] = None,
) -> None:
    """Add a seed to the config and tell the daemon running here to join it now (a node
    `harombe cluster remove` excluded is routed to again)."""
    from harombe.cli.client import get_json, local_url, normalise_url
    from harombe.cli.cluster import (
        add_seed,
        config_path,
        own_addresses,
        running_self_address,
        set_excluded,
        tell_daemon_exclude,
        tell_daemon_join,
        view_addresses,
    )
    from harombe.config import ConfigError, HarombeConfig, parse_address

    try:
        address = parse_address(address)
    except ValueError as exc:
        fail(str(exc))
    path = config_path(config)
    # A file with mistakes is reported, not edited.
    current = load_or_exit(path) if path.exists() else HarombeConfig()
    url = normalise_url(peer) if peer else local_url(current)
    if address in own_addresses(current) or address == asyncio.run(running_self_address(url)):
        fail(f"{address} is this peer's own address; add another machine's address")
    view = asyncio.run(view_addresses(url)) or {}
    host = address.rsplit(":", 1)[0]
    back = [n for n in current.cluster.excluded if view.get(n) == address or n == host]
    try:
        added = add_seed(path, address)
        set_excluded(path, back, False)
    except ConfigError as exc:
        fail(str(exc))
    load_or_exit(path)
    say(f"{'added' if added else 'already listed'}: {address} in {path}")
    if back:
        say(f"no longer excluded: {', '.join(back)}")

    async def go():
        await get_json(url, "/health")
        for name in back:
            await tell_daemon_exclude(url, name, False)
        await tell_daemon_join(url, address)

    try:
        asyncio.run(go())
    except PeerUnreachable as exc:
        console.print(f"[yellow]no running daemon told:[/] {escape(str(exc))}", soft_wrap=True)
        console.print("harombed joins it at its next start")
        return
    say(f"the daemon at {url} is joining {address}")


@cluster_app.command("remove")
def cluster_remove(
    name: Annotated[
        str,
        typer.Argument(metavar="NODE", help="A node's name, or a seed's HOST[:PORT]."),
    ],
    config: ConfigOpt = None,
) -> None:
    """Stop using a node: drop it from the config and stop the whole cluster routing to it.

    The exclusion is kept in the config (cluster.excluded) and gossiped by the daemon running
    here, so every peer stops sending it work, until `harombe cluster add` names it again.
    """
    from harombe.cli.client import local_url
    from harombe.cli.cluster import (
        config_path,
        names_at,
        remove_seed,
        set_excluded,
        tell_daemon_exclude,
        view_addresses,
    )
    from harombe.config import ConfigError, HarombeConfig

    path = config_path(config)
    current = load_or_exit(path) if path.exists() else HarombeConfig()
    url = local_url(current)
    view = asyncio.run(view_addresses(url))
    names = names_at(name, view or {}, [n.name for n in current.cluster.nodes])
    try:
        removed = remove_seed(path, name)
        for node in names:  # its seed address too, or the daemon would join it again
            removed += remove_seed(path, (view or {}).get(node, node))
        excluded = set_excluded(path, names, True)
    except ConfigError as exc:
        fail(str(exc))
    if not removed and not names:
        fail(f"{name} is not a seed, a listed node or a node in the cluster ({path})", code=1)
    if removed:
        say(f"removed {', '.join(dict.fromkeys(removed))} from {path}")
    if not names:
        say("no daemon here names a node at that address: nothing to exclude")
        return
    say(f"excluded {', '.join(names)} in {path}{'' if excluded else ' (already)'}")

    async def go():
        for node in names:
            await tell_daemon_exclude(url, node, True)

    try:
        asyncio.run(go())
    except PeerUnreachable as exc:
        console.print(f"[yellow]no running daemon told:[/] {escape(str(exc))}", soft_wrap=True)
        say("harombed excludes it from its next start")
        return
    say(f"the cluster stops routing to {', '.join(names)} (until `harombe cluster add`)")


def say(text: str) -> None:
    """A line of plain output (names and paths are never read as markup)."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


@cluster_app.command("test")
def cluster_test(config: ConfigOpt = None, peer: PeerOpt = None) -> None:
    """Check every peer: reachable, admitted (same key), backend healthy, RTT, one completion."""
    from harombe.cli.cluster_check import test_cluster

    cfg = load_or_exit(config)

    async def go():
        return await test_cluster(await find_peer(cfg, peer), cfg, console)

    if not _run(go()):
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()

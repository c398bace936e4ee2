"""`harombed`: the daemon every machine runs beside its inference server."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from harombe import __version__, event_loop
from harombe.cli.common import Command, fail, load_or_exit, set_path
from harombe.config import parse_address

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

DEMO_NOTE = (
    "demo model: a tiny random-weight llama generated on this machine. Its answers are noise;"
    " it exercises the whole path. Point harombed at Ollama or a real GGUF for real answers."
)


@app.command(cls=Command)
def harombed(
    config: Annotated[
        Path | None, typer.Option(help="Config file (default ~/.harombe/harombe.yaml).")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (default 8765; 0 = any).")] = None,
    name: Annotated[str | None, typer.Option(help="This peer's name (default: host name).")] = None,
    tier: Annotated[
        int | None, typer.Option(min=0, max=2, help="Tier this machine serves.")
    ] = None,
    seed: Annotated[
        list[str] | None, typer.Option(metavar="HOST:PORT", help="A peer to join (repeatable).")
    ] = None,
    mdns: Annotated[bool | None, typer.Option("--mdns/--no-mdns", help="mDNS discovery.")] = None,
    mdns_interface: Annotated[
        list[str] | None,
        typer.Option(
            metavar="ADDRESS", help="Restrict mDNS to this address (repeatable), e.g. 127.0.0.1."
        ),
    ] = None,
    backend: Annotated[
        str | None, typer.Option(help="Local inference server: ollama, openai, llamacpp or none.")
    ] = None,
    backend_url: Annotated[str | None, typer.Option(help="Backend base URL.")] = None,
    model: Annotated[
        str | None, typer.Option(help="Default model when a request names none.")
    ] = None,
    gguf: Annotated[
        Path | None, typer.Option(help="GGUF file to serve (implies --backend llamacpp).")
    ] = None,
    demo_model: Annotated[
        bool,
        typer.Option(
            "--demo-model", help="Serve the generated tiny demo model (answers are noise)."
        ),
    ] = False,
    cluster_key_file: Annotated[
        Path | None,
        typer.Option(help="File holding the cluster key (keys never go on the command line)."),
    ] = None,
    tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate: serve HTTPS/WSS.")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key of --tls-cert.")] = None,
    tls_ca: Annotated[
        Path | None, typer.Option(help="PEM CA that peers' certificates must be signed by.")
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    """Run one harombe peer: serve the Ollama and OpenAI APIs, gossip, route, fail over."""
    if version:
        typer.echo(f"harombed {__version__}")
        raise typer.Exit()
    overrides: dict[str, Any] = {}
    set_path(overrides, "server.host", host)
    set_path(overrides, "server.port", port)
    set_path(overrides, "node.name", name)
    set_path(overrides, "node.tier", tier)
    if seed:
        try:
            set_path(overrides, "cluster.seeds", [parse_address(s) for s in seed])
        except ValueError as exc:
            fail(f"--seed: {exc}")
    set_path(overrides, "cluster.mdns", mdns)
    set_path(overrides, "cluster.mdns_interfaces", mdns_interface or None)
    set_path(overrides, "backend.kind", "llamacpp" if (gguf or demo_model) else backend)
    set_path(overrides, "backend.url", backend_url)
    set_path(overrides, "backend.model", model)
    set_path(overrides, "backend.gguf", str(gguf) if gguf else None)
    set_path(overrides, "backend.demo_model", True if demo_model else None)
    set_path(
        overrides, "security.cluster_key_file", str(cluster_key_file) if cluster_key_file else None
    )
    set_path(overrides, "tls.cert", str(tls_cert) if tls_cert else None)
    set_path(overrides, "tls.key", str(tls_key) if tls_key else None)
    set_path(overrides, "tls.ca", str(tls_ca) if tls_ca else None)
    cfg = load_or_exit(config, overrides)
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if log_level.lower() != "debug":
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    if cfg.backend.kind == "llamacpp" and cfg.backend.demo_model and not cfg.backend.gguf:
        typer.secho(DEMO_NOTE, fg="yellow", err=True)
    try:
        event_loop.run(_serve(cfg))
    except OSError as exc:
        fail(str(exc), code=1)
    except ValueError as exc:
        fail(str(exc))


async def _serve(cfg) -> None:
    from harombe.daemon import Node

    loop = asyncio.get_running_loop()
    async with Node(cfg) as node:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, node.stop)
        typer.echo(
            f"harombed {__version__}: node {node.name} (tier {cfg.node.tier}) on "
            f"{cfg.tls.scheme}://{node.address}  backend={cfg.backend.kind}",
            err=True,
        )
        await node.serve_forever()
        typer.echo(f"harombed: {node.name} leaving the cluster", err=True)


def main() -> None:
    app()


if __name__ == "__main__":
    main()

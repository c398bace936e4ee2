"""Real peers for the `harombe` command-line tests, all on loopback with mDNS off.

In-process peers (`Node`) run on the test's event loop while the CLI runs in a worker thread
(typer's CliRunner, or a subprocess), because every CLI command starts its own event loop.
`Harombed` is a `harombed` process for the tests that need one (the demo model, a terminal).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pexpect
import yaml
from typer.testing import CliRunner, Result

from harombe.cli.main import app
from harombe.config import HarombeConfig
from harombe.daemon import Node

DEADLINE_S = 30.0
HAROMBE = [sys.executable, "-P", "-m", "harombe.cli.main"]
"""`harombe` as its console script runs it: the current directory is not on `sys.path`."""
EXPECT_S = 30  # a deadline for each step of a terminal session, not a timing claim


def free_port() -> int:
    """A loopback port free now, for a server another process binds soon after."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bound_socket(port: int = 0) -> socket.socket:
    """A loopback TCP socket bound to `port` (0: any free one), for a server of this process
    to listen on: the port stays taken from the start, so no connection this process opens in
    the meantime can be given it as its own local port (which `free_port` cannot rule out)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def node_config(
    name: str, tier: int = 0, seeds: list[str] | None = None, **sections: dict[str, Any]
) -> HarombeConfig:
    """A loopback peer: port 0, mDNS off, fast membership timings, no backend unless given."""
    data: dict[str, Any] = {
        "node": {"name": name, "tier": tier},
        "server": {"host": "127.0.0.1", "port": 0},
        "backend": {"kind": "none"},
        "cluster": {"mdns": False, "seeds": seeds or [], "membership": {"profile": "local"}},
    }
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    return HarombeConfig.model_validate(data)


def client_config(path: Path, **sections: dict[str, Any]) -> Path:
    """A config file for the CLI side: mDNS off and a local-daemon port nobody listens on, so
    only `--peer` (or what `sections` adds) can find a peer."""
    data: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": free_port()},
        "cluster": {"mdns": False},
    }
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    path.write_text(yaml.safe_dump(data))
    return path


async def poll(check: Callable[[], Any], what: str, deadline: float = DEADLINE_S) -> None:
    """Wait until `check()` (sync or async) is truthy; fail with `what` after `deadline`."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while loop.time() < end:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def states(node: Node) -> dict[str, str]:
    assert node.membership is not None
    return {m.name: m.state.label for m in node.membership.members()}


@asynccontextmanager
async def cluster(*configs: HarombeConfig) -> AsyncIterator[list[Node]]:
    """Start peers (the first is every later one's seed) and wait until all see all alive."""
    nodes: list[Node] = []
    try:
        for cfg in configs:
            if nodes:
                cfg = cfg.model_copy(deep=True)
                cfg.cluster.seeds = [nodes[0].address]
            node = Node(cfg)
            await node.__aenter__()
            nodes.append(node)
        names = {n.name for n in nodes}
        for node in nodes:
            await poll(
                lambda node=node: (
                    set(states(node)) == names and set(states(node).values()) == {"alive"}
                ),
                f"{node.name} to see every peer alive",
            )
        yield nodes
    finally:
        for node in reversed(nodes):
            await node.__aexit__(None, None, None)


def url_of(node: Node) -> str:
    return f"http://{node.address}"


async def invoke(*args: str, input: str | None = None) -> Result:
    """`harombe ARGS` through typer's CliRunner, in a worker thread (it runs its own loop)."""
    runner = CliRunner()
    return await asyncio.to_thread(runner.invoke, app, list(args), input=input)


def cli_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAROMBE_")}
    return {**env, "HAROMBE_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "120"}


def in_terminal(*args: str, home: Path, term: str = "dumb", columns: int = 120) -> pexpect.spawn:
    """`harombe ARGS` in a pseudo-terminal of 40 rows, as a person runs it. Ctrl-C is at its
    default in the child, as a shell in a terminal leaves it: a test runner started as a
    background job ignores SIGINT, and its children would inherit that."""
    return pexpect.spawn(
        HAROMBE[0],
        [*HAROMBE[1:], *args],
        env={**cli_env(home), "TERM": term},
        encoding="utf-8",
        timeout=EXPECT_S,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        dimensions=(40, columns),
    )


async def run_harombe(
    *args: str,
    home: Path,
    input: str | None = None,
    limit_s: float = 60,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """`harombe ARGS` as its own process (exit code, stdout and stderr as a person sees them)."""
    return await asyncio.to_thread(
        subprocess.run,
        [*HAROMBE, *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=limit_s,
        env={**cli_env(home), **(env or {})},
        stdin=None if input is not None else subprocess.DEVNULL,
        cwd=cwd,
    )


class Harombed:
    """A `harombed` process on 127.0.0.1 with mDNS off; its output goes to `log`."""

    def __init__(self, home: Path, name: str, *args: str) -> None:
        self.home = home
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = home / f"{name}.log"
        self.args = [
            "--host", "127.0.0.1", "--port", str(self.port), "--name", name, "--no-mdns", *args
        ]  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "harombe.cli.daemon", *self.args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=cli_env(self.home),
            )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    async def wait_healthy(self, deadline: float = 60.0) -> None:
        async def up() -> bool:
            assert self.process is not None and self.process.poll() is None, self.log.read_text()
            try:
                async with aiohttp.ClientSession() as http, http.get(f"{self.url}/health") as r:
                    return r.status == 200
            except aiohttp.ClientError:
                return False

        await poll(up, f"{self.name} to answer /health", deadline)


@contextmanager
def harombed(home: Path, name: str, *args: str) -> Iterator[Harombed]:
    """A started, healthy `harombed` (for sync, e.g. module-scoped, fixtures)."""
    daemon = Harombed(home, name, *args)
    daemon.start()
    try:
        asyncio.run(daemon.wait_healthy())
        yield daemon
    finally:
        daemon.stop()


async def get_status(url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/cluster/status") as resp:
        return await resp.json()

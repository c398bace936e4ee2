"""`harombe demo`: a three-peer cluster on this machine, the seed's workflows, a failure.

Three real `harombed` processes on loopback (tiers 0, 1, 2, mDNS off, joined by seeds), each on
the embedded llama.cpp demo model. The demo sends a quick question, a paper analysis and a
10-paper comparison, shows where each went and why, kills the tier-2 peer with SIGKILL, shows
the fallback and the failure detection, restarts it and shows the recovery. Every process it
started is stopped on the way out, whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from harombe.cli.client import PeerUnreachable, get_json, post_json
from harombe.cli.common import python_module_command

# The demo model's vocabulary is bytes, so a prompt costs a token per character: every prompt
# stays under 1,500 characters, well inside its 2,048-token training context, while keeping
# the words that make the classifier pick tiers 0, 1 and 2. Fast membership timings make the
# failure visible in seconds.
DEMO_CONFIG = """\
backend:
  n_ctx: 32768
cluster:
  membership:
    profile: local
"""
READY_TIMEOUT_S = 90.0
DETECT_TIMEOUT_S = 30.0
POLL_S = 0.25

ABSTRACT = (
    "We study whether small language models can route queries between machines. On 300 "
    "prompts, a rule-based router kept 96% of simple queries on the smallest model while "
    "sending every multi-document task to the largest one, cutting median latency by 4x."
)
PAPER = " ".join(
    [
        "Section 1 introduces a method for distributed inference across heterogeneous GPUs.",
        "Section 2 describes the gossip protocol, the failure detector and the routing policy.",
        "Section 3 evaluates latency, throughput and failover on a three-machine testbed.",
    ]
    * 5
)
PAPERS = "\n".join(
    f"Paper {i}: a router kept {90 + i // 2}% of simple queries on the smallest model; "
    f"latency fell {2 + i % 4}x."
    for i in range(1, 11)
)
WORKFLOWS = [
    ("quick question", f"What's the main finding in this abstract?\n\n{ABSTRACT}"),
    (
        "paper analysis",
        f"Analyze this 20-page paper and extract the key methods, step by step.\n\n{PAPER}",
    ),
    (
        "meta-analysis",
        "Compare these 10 papers, find common patterns across their methods and results, "
        f"flag contradictions between them, and propose a research agenda.\n\n{PAPERS}",
    ),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class DemoPeer:
    name: str
    tier: int
    port: int
    seeds: list[str]
    config: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        args = python_module_command(
            "harombe.cli.daemon",
            "--config",
            str(self.config),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--name",
            self.name,
            "--tier",
            str(self.tier),
            "--no-mdns",
            "--demo-model",
        )
        for seed in self.seeds:
            args += ["--seed", seed]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.config.parent,
            )

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if not self.process or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class Demo:
    console: Console
    workdir: Path
    peers: list[DemoPeer] = field(default_factory=list)

    def setup(self) -> None:
        ports = [free_port() for _ in range(3)]
        config = self.workdir / "demo.yaml"
        config.write_text(DEMO_CONFIG)
        for tier, port in enumerate(ports):
            seeds = [f"127.0.0.1:{p}" for p in ports if p != port]
            self.peers.append(
                DemoPeer(
                    f"demo-tier{tier}",
                    tier,
                    port,
                    seeds,
                    config,
                    self.workdir / f"demo-tier{tier}.log",
                )
            )

    def cleanup(self) -> None:
        for peer in self.peers:
            peer.stop()

    async def wait_for(
        self, what: str, check: Callable[[], Awaitable[bool]], limit_s: float
    ) -> float:
        started = time.monotonic()
        with self.console.status(what):
            while time.monotonic() - started < limit_s:
                with contextlib.suppress(PeerUnreachable):
                    if await check():
                        return time.monotonic() - started
                await asyncio.sleep(POLL_S)
                for peer in self.peers:
                    if peer.process and peer.process.poll() not in (None, -9):
                        raise RuntimeError(
                            f"{peer.name} exited; its log: {peer.log}\n"
                            + peer.log.read_text()[-2000:]
                        )
        raise TimeoutError(f"timed out: {what}; logs in {self.workdir}")

    async def states(self, observer: DemoPeer) -> dict[str, str]:
        status = await get_json(observer.url, "/cluster/status")
        return {n["name"]: n["state"] for n in status["nodes"]}

    async def all_see(self, observers: list[DemoPeer], name: str, state: str) -> bool:
        for peer in observers:
            if (await self.states(peer)).get(name) != state:
                return False
        return True

    async def ask(self, entry: DemoPeer, label: str, prompt: str) -> dict[str, Any]:
        started = time.monotonic()
        answer = await post_json(
            entry.url, "/cluster/execute", {"query": prompt, "timeout": 120}, limit_s=150
        )
        took = time.monotonic() - started
        fallbacks = answer.get("fallbacks") or []
        classified, tier = answer.get("classified_tier"), answer.get("tier")
        line = (
            f"  [bold]{label:<15}[/] classified tier {classified} → "
            f"[cyan]{escape(str(answer.get('node')))}[/] (tier {tier}) in {took:.2f}s"
        )
        for switch in fallbacks:
            line += f"\n  {'':<15} [yellow]fallback[/] " + escape(
                f"{switch.get('from_node')} → {switch.get('to_node')}: {switch.get('reason')}"
            )
        if not fallbacks and classified is not None and tier != classified:
            line += (
                f"\n  {'':<15} [yellow]fallback[/] no tier-{classified} peer is usable now: "
                "served by the next tier in the fallback order"
            )
        self.console.print(line)
        noise = answer.get("response", "")[:60] or "(the model stopped at once)"
        self.console.print(f"  {'':<15} [dim]answer (noise): {escape(repr(noise))}[/]")
        return answer

    async def run(self) -> None:
        out = self.console
        self.setup()
        for peer in self.peers:
            peer.start()
        names = [p.name for p in self.peers]
        out.print(f"started {', '.join(f'{p.name} on {p.url}' for p in self.peers)}")

        async def converged() -> bool:
            for peer in self.peers:
                states = await self.states(peer)
                if [states.get(n) for n in names] != ["alive"] * 3:
                    return False
            return True

        took = await self.wait_for(
            "waiting for the peers to find each other", converged, READY_TIMEOUT_S
        )
        out.print(f"all three peers see each other alive ({took:.1f}s)\n")
        entry, tier2 = self.peers[0], self.peers[2]
        out.print(f"[bold]1. the seed's workflows, all sent to {entry.name}:[/]")
        for label, prompt in WORKFLOWS:
            await self.ask(entry, label, prompt)

        out.print(f"\n[bold]2. kill -9 {tier2.name}, then ask the complex question again:[/]")
        tier2.kill()
        killed_at = time.monotonic()
        await self.ask(entry, WORKFLOWS[2][0], WORKFLOWS[2][1])
        await self.wait_for(
            f"waiting until every survivor marks {tier2.name} dead",
            lambda: self.all_see(self.peers[:2], tier2.name, "dead"),
            DETECT_TIMEOUT_S,
        )
        took = time.monotonic() - killed_at
        out.print(f"  both survivors mark {tier2.name} [red]dead[/] {took:.1f}s after the kill")

        out.print(f"\n[bold]3. restart {tier2.name}:[/]")
        tier2.start()
        took = await self.wait_for(
            f"waiting until every peer sees {tier2.name} alive again",
            lambda: self.all_see(self.peers, tier2.name, "alive"),
            READY_TIMEOUT_S,
        )
        out.print(f"  {tier2.name} is [green]alive[/] again everywhere after {took:.1f}s")
        await self.ask(entry, WORKFLOWS[2][0], WORKFLOWS[2][1])
        out.print(
            "\n[dim]The demo model's answers are noise: it is a tiny random-weight model that "
            "exercises the whole path. Point harombed at Ollama or a real GGUF for real answers.[/]"
        )


def run_demo(console: Console) -> int:
    """Run the demo; 0 when every step worked, 1 (with the reason and the logs) when not."""
    try:
        import xllamacpp  # noqa: F401  (each demo peer serves the model with it)

        from harombe.inference.demo_model import ensure_demo_model
    except ImportError as exc:
        console.print(
            f"[bold red]demo unavailable:[/] {escape(str(exc))}; install the embedded llama.cpp "
            "extra: pip install 'harombe[llamacpp]'"
        )
        return 1
    with console.status("preparing the demo model (once)"):
        ensure_demo_model()
    workdir = Path(tempfile.mkdtemp(prefix="harombe-demo-"))
    demo = Demo(console, workdir)
    try:
        asyncio.run(demo.run())
        return 0
    except KeyboardInterrupt:
        console.print("\n[yellow]demo interrupted[/]")
        return 130
    except (TimeoutError, RuntimeError, PeerUnreachable) as exc:
        console.print(f"[bold red]demo failed:[/] {escape(str(exc))}")
        return 1
    finally:
        demo.cleanup()
        console.print(f"stopped every demo peer; their logs are in {workdir}")

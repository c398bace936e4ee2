"""Membership of real `harombed` processes on loopback: detection, join, traffic at rest.

Every peer is its own `harombed` process (mDNS off, no backend, joined through the first peer
as seed) with the default membership timings (profile `lan`, what users get). Per cluster size:
- formation: all peers started at once until every peer sees all of them alive;
- rest: `harombe_membership_bytes_*_total` read from every peer's /metrics twice, a window
  apart, after the cluster has settled (no queries), and the CPU the processes used meanwhile;
- trials: a random non-seed peer gets SIGKILL; every other peer's /cluster/status is polled
  until all report it dead (detection); it is restarted at once on its name and port (a new
  generation) and timed until every peer, it included, sees every peer alive (rejoin);
- joins: brand-new peers start one at a time and are timed the same way, then each leaves
  with SIGTERM, timed until every other peer reports it left.
Everything runs on this host, so the daemons, the polls and the rest of the host share its
cores; the report states the machine and the CPU used, to be read with the numbers.

`python -m sim.bench.loopback [--peers 3 20] [--trials 10]`
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import re
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from harombe.cluster.config import MembershipConfig

HEADING = "### Membership on loopback: real harombed processes"
POLL_S = 0.05  # status poll period per observer
REQUEST_TIMEOUT_S = 5.0
FORMATION_TIMEOUT_S = 180.0
DETECT_TIMEOUT_S = 60.0
JOIN_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0  # SIGTERM (graceful leave) before SIGKILL on the way out
SETTLE_S = 5.0  # after formation, before the rest window: join gossip drains
REST_S = 20.0  # traffic window; push/pull phases are random, so the mean over peers is fair
METRIC = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$", re.M)

# Their figures, not ours: memberlist's DefaultLANConfig and Serf's convergence simulator.
MEMBERLIST_DETECTION_S = "~10 s at 100 nodes (probe 1 s, suspicion mult 4)"
SERF_BANDWIDTH = "~42 KB/s per node (ceiling of their model)"


@dataclass
class Peer:
    name: str
    port: int
    args: list[str]
    env: dict[str, str]
    log: Path
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                *self.args, stdout=out, stderr=out, env=self.env
            )

    def signal_kill(self) -> None:
        """SIGKILL without waiting (safe in a cancelled task's cleanup)."""
        if self.process and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()

    async def kill(self) -> None:
        self.signal_kill()
        if self.process:
            await self.process.wait()

    async def stop(self) -> None:
        """SIGTERM (graceful leave), then SIGKILL if it has not exited in time."""
        if not self.process or self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            await self.kill()

    def exited(self) -> bool:
        return self.process is not None and self.process.returncode is not None

    def log_tail(self, chars: int = 2000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.asynccontextmanager
async def cluster(n: int, spare: int, home: Path) -> AsyncIterator[tuple[list[Peer], list[Peer]]]:
    """n harombed processes on loopback, all started at once, and `spare` more not started yet
    (newcomers); every process started is stopped on the way out."""
    config = home / "harombe.yaml"
    config.write_text("{}\n")  # default membership timings (profile lan)
    env = {**os.environ, "HAROMBE_HOME": str(home)}
    ports = [free_port() for _ in range(n + spare)]
    peers = []
    for i, port in enumerate(ports):
        args = [sys.executable, "-m", "harombe.cli.daemon", "--host", "127.0.0.1",
                "--port", str(port), "--name", f"p{i}", "--no-mdns", "--backend", "none",
                "--log-level", "warning", "--config", str(config)]  # fmt: skip
        if i:
            args += ["--seed", f"127.0.0.1:{ports[0]}"]
        peers.append(Peer(f"p{i}", port, args, env, home / f"p{i}.log"))
    try:
        for peer in peers[:n]:
            await peer.start()
        yield peers[:n], peers[n:]
    finally:
        try:
            await asyncio.gather(*(peer.stop() for peer in peers))
        finally:
            for peer in peers:
                peer.signal_kill()


async def status(http: aiohttp.ClientSession, peer: Peer) -> dict[str, str] | None:
    """name -> state in `peer`'s view, or None while it does not answer."""
    try:
        async with http.get(f"{peer.url}/cluster/status") as resp:
            if resp.status != 200:
                return None
            body = await resp.json()
    except (aiohttp.ClientError, TimeoutError):
        return None
    return {node["name"]: node["state"] for node in body["nodes"]}


View = dict[str, str]


@dataclass
class Watch:
    """Seconds from `t0` until each observer's view met a condition: `first` the first time,
    `times` for good (with `stable`, a view that stops meeting it is watched again)."""

    answered: dict[str, float] = field(default_factory=dict)  # first answer at all
    first: dict[str, float] = field(default_factory=dict)
    times: dict[str, float] = field(default_factory=dict)
    flaps: int = 0  # views that met the condition, then stopped meeting it
    odd: set[tuple[str, str, str]] = field(default_factory=set)  # (observer, node, state)


async def watch(
    http: aiohttp.ClientSession,
    observers: Sequence[Peer],
    condition: Callable[[View], bool],
    t0: float,
    limit_s: float,
    what: str,
    *,
    stable: bool = False,
    expected_alive: Callable[[Peer], set[str]] | None = None,
) -> Watch:
    """Poll every observer's /cluster/status in parallel every POLL_S until `condition` holds
    for each one. Without `stable` an observer is no longer polled once it holds (for
    conditions that cannot revert, like the death of a killed peer); with it, every observer
    is polled until all hold at once. `expected_alive(observer)` names peers that must stay
    alive meanwhile; any other state of theirs goes to `odd` (false suspicions and deaths)."""
    loop = asyncio.get_running_loop()
    result = Watch()
    deadline = t0 + limit_s

    def done(observer: Peer) -> bool:
        if stable:
            return len(result.times) == len(observers)
        return observer.name in result.times

    async def one(observer: Peer) -> None:
        while not done(observer) and loop.time() < deadline:
            started = loop.time()
            view = await status(http, observer)
            seen_at = loop.time() - t0
            if view is not None:
                result.answered.setdefault(observer.name, seen_at)
                for name in expected_alive(observer) if expected_alive else ():
                    if view.get(name, "alive") != "alive":
                        result.odd.add((observer.name, name, view[name]))
                if condition(view):
                    result.first.setdefault(observer.name, seen_at)
                    result.times.setdefault(observer.name, seen_at)
                elif result.times.pop(observer.name, None) is not None:
                    result.flaps += 1
            if not done(observer):
                await asyncio.sleep(max(0.0, POLL_S - (loop.time() - started)))

    await asyncio.gather(*(one(o) for o in observers))
    missing = sorted(o.name for o in observers if o.name not in result.times)
    if missing:
        raise TimeoutError(f"no {what} within {limit_s:.0f} s at {', '.join(missing)}")
    return result


class CpuMeter:
    """Cores used over a span by this process's children (the daemons, restarted ones and
    killed ones included), by this process, and by the whole host."""

    def _read(self) -> tuple[float, float, float, float]:
        me = psutil.Process()
        children = 0.0
        for child in me.children():
            with contextlib.suppress(psutil.NoSuchProcess):
                t = child.cpu_times()
                children += t.user + t.system
        reaped = os.times()
        mine = me.cpu_times()
        host = psutil.cpu_times()
        return (
            children + reaped.children_user + reaped.children_system,
            mine.user + mine.system,
            host.user + host.system + host.nice,
            time.monotonic(),
        )

    async def __aenter__(self) -> CpuMeter:
        self._start = await asyncio.to_thread(self._read)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        end = await asyncio.to_thread(self._read)
        wall = end[3] - self._start[3]
        self.daemons, self.bench, self.host = (
            (e - s) / wall for e, s in zip(end[:3], self._start[:3], strict=True)
        )


def metric(text: str, name: str) -> float:
    for m in METRIC.finditer(text):
        if m["name"] == name and not m["labels"]:
            return float(m["value"])
    raise ValueError(f"/metrics has no {name}")


async def counters(http: aiohttp.ClientSession, peer: Peer) -> tuple[float, float, float]:
    async with http.get(f"{peer.url}/metrics") as resp:
        resp.raise_for_status()
        text = await resp.text()
    return (
        metric(text, "harombe_membership_bytes_sent_total"),
        metric(text, "harombe_membership_bytes_received_total"),
        metric(text, "harombe_membership_probes_total"),
    )


@dataclass
class Rest:
    sent: list[float]  # bytes/s per peer
    received: list[float]
    probes: list[float]  # probes/s per peer
    daemons_cpu: float  # cores
    bench_cpu: float
    host_cpu: float


async def measure_rest(http: aiohttp.ClientSession, peers: list[Peer], window: float) -> Rest:
    async with CpuMeter() as cpu:
        before = await asyncio.gather(*(counters(http, p) for p in peers))
        t0 = time.monotonic()
        await asyncio.sleep(window)
        after = await asyncio.gather(*(counters(http, p) for p in peers))
        span = time.monotonic() - t0
    rates = [[(a[k] - b[k]) / span for a, b in zip(after, before, strict=True)] for k in range(3)]
    return Rest(*rates, cpu.daemons, cpu.bench, cpu.host)


async def wait_http(http: aiohttp.ClientSession, peer: Peer, t0: float, limit_s: float) -> float:
    loop = asyncio.get_running_loop()
    while loop.time() < t0 + limit_s:
        if peer.exited():
            raise RuntimeError(f"{peer.name} exited:\n{peer.log_tail()}")
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with http.get(f"{peer.url}/health") as resp:
                if resp.status == 200:
                    return loop.time() - t0
        await asyncio.sleep(POLL_S)
    raise TimeoutError(f"{peer.name}: HTTP not up within {limit_s:.0f} s")


@dataclass
class Join:
    """Seconds from starting a peer's process."""

    http_up: float  # its HTTP server answers
    first_seen: float  # every other peer has seen it alive at least once
    joined: float  # every peer, it included, sees every peer alive, all at once
    flaps: int  # a peer's view met that, then lost it again (e.g. saw the newcomer die)
    odd: set[tuple[str, str, str]]


async def join(http: aiohttp.ClientSession, members: list[Peer], newcomer: Peer) -> Join:
    """Start `newcomer` (a new peer, or one restarted on its name and port) and time its join."""
    loop = asyncio.get_running_loop()
    names = {p.name for p in members} | {newcomer.name}
    everyone = [*(p for p in members if p is not newcomer), newcomer]
    t0 = loop.time()
    await newcomer.start()
    try:
        async with asyncio.TaskGroup() as group:
            up = group.create_task(wait_http(http, newcomer, t0, JOIN_TIMEOUT_S))
            seen = group.create_task(
                watch(
                    http,
                    everyone,
                    lambda view: all(view.get(n) == "alive" for n in names),
                    t0,
                    JOIN_TIMEOUT_S,
                    f"join of {newcomer.name}",
                    stable=True,
                    expected_alive=lambda o: names - {newcomer.name, o.name},
                )
            )
    except* (TimeoutError, RuntimeError) as errors:
        raise errors.exceptions[0] from None
    result = seen.result()
    return Join(
        up.result(),
        max(t for name, t in result.first.items() if name != newcomer.name),
        max(result.times.values()),
        result.flaps,
        result.odd,
    )


@dataclass
class Kill:
    first_dead: float  # SIGKILL -> the first peer reports it dead
    all_dead: float  # SIGKILL -> every surviving peer does
    odd: set[tuple[str, str, str]]
    rejoin: Join  # restarted on its name and port at once (a new generation)


async def kill_and_restart(http: aiohttp.ClientSession, peers: list[Peer], victim: Peer) -> Kill:
    loop = asyncio.get_running_loop()
    others = [p for p in peers if p is not victim]
    names = {p.name for p in peers}
    t0 = loop.time()
    await victim.kill()
    dead = await watch(
        http,
        others,
        lambda view: view.get(victim.name) == "dead",
        t0,
        DETECT_TIMEOUT_S,
        f"death of {victim.name}",
        expected_alive=lambda o: names - {victim.name, o.name},
    )
    rejoin = await join(http, peers, victim)
    return Kill(min(dead.times.values()), max(dead.times.values()), dead.odd, rejoin)


async def leave(http: aiohttp.ClientSession, others: list[Peer], leaver: Peer) -> float:
    """SIGTERM (graceful leave): seconds until every other peer reports `leaver` left."""
    t0 = asyncio.get_running_loop().time()
    _, left = await asyncio.gather(
        leaver.stop(),
        watch(
            http,
            others,
            lambda view: view.get(leaver.name) == "left",
            t0,
            JOIN_TIMEOUT_S,
            f"leave of {leaver.name}",
        ),
    )
    return max(left.times.values())


async def joins_then_leaves(
    http: aiohttp.ClientSession, peers: list[Peer], newcomers: list[Peer]
) -> tuple[list[Join], list[float]]:
    """Brand-new peers join one at a time and stay (no recently gone peer is around to draw
    gossip), then leave one at a time."""
    members = list(peers)
    joins = []
    for newcomer in newcomers:
        joins.append(await join(http, members, newcomer))
        members.append(newcomer)
    leaves = []
    for leaver in reversed(newcomers):
        members.remove(leaver)
        leaves.append(await leave(http, members, leaver))
    return joins, leaves


@dataclass
class SizeResult:
    peers: int
    formation: tuple[float, float]  # every process up, every peer joined
    rest: Rest
    rest_window: float
    joins: list[Join]
    leaves: list[float]
    kills: list[Kill]
    kills_cpu: tuple[float, float, float]  # daemons, bench, host cores during the kill trials


async def run_size(
    n: int, trials: int, newcomers_n: int, rng: random.Random, settle: float, rest: float
) -> SizeResult:
    loop = asyncio.get_running_loop()
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    with tempfile.TemporaryDirectory(prefix=f"harombe-loopback-{n}-") as home:
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            cluster(n, newcomers_n, Path(home)) as (peers, newcomers),
        ):
            names = {p.name for p in peers}
            t0 = loop.time()
            try:
                formed = await watch(
                    http,
                    peers,
                    lambda view: all(view.get(name) == "alive" for name in names),
                    t0,
                    FORMATION_TIMEOUT_S,
                    "full view",
                    stable=True,
                )
            except TimeoutError as exc:
                dead = [p for p in peers if p.exited()]
                tail = f"\n{dead[0].name}:\n{dead[0].log_tail()}" if dead else ""
                raise RuntimeError(f"cluster of {n} did not form: {exc}{tail}") from None
            await asyncio.sleep(settle)
            at_rest = await measure_rest(http, peers, rest)
            async with CpuMeter() as cpu:
                kills = [
                    await kill_and_restart(http, peers, rng.choice(peers[1:]))
                    for _ in range(trials)
                ]
            joins, leaves = await joins_then_leaves(http, peers, newcomers)
            return SizeResult(
                n,
                (max(formed.answered.values()), max(formed.times.values())),
                at_rest,
                rest,
                joins,
                leaves,
                kills,
                (cpu.daemons, cpu.bench, cpu.host),
            )


def _s(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} / {max(values):.2f}"


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        f"{platform.system()}; host load average before the run (1/5/15 min): {load}"
    )


def _odd(found: Sequence[set[tuple[str, str, str]]]) -> int:
    return sum(len(x) for x in found)


def _join_row(r: SizeResult, kind: str, joins: list[Join], leave: str) -> str:
    return (
        f"| {r.peers} | {kind} | {len(joins)} | {_s([j.http_up for j in joins])} | "
        f"{_s([j.first_seen for j in joins])} | {_s([j.joined for j in joins])} | "
        f"{_s([j.joined - j.http_up for j in joins])} | {sum(j.flaps for j in joins)} | {leave} |"
    )


def format_report(results: list[SizeResult], command: str, machine: str) -> str:
    cfg = MembershipConfig()
    out = [
        HEADING,
        "",
        f"`{command}`",
        "",
        f"Machine: {machine}. Every peer is a `harombed` process (mDNS off, no backend, seed = "
        "p0) with the default membership timings (profile lan: probe every "
        f"{cfg.probe_interval:g} s, probe timeout {cfg.probe_timeout:g} s, "
        f"{cfg.indirect_checks} indirect checks, suspicion mult {cfg.suspicion_mult}, "
        f"push/pull every {cfg.pushpull_interval:g} s). The peers, this bench's polls and the "
        "rest of the host share the cores (see the CPU columns). Each peer's /cluster/status "
        f"is polled every {POLL_S * 1000:.0f} ms; a time is taken when the answer arrives. "
        "Times are p50 / max in seconds; with this few trials the max stands in for a tail "
        "percentile.",
        "",
        "**Failure detection**: SIGKILL of a random non-seed peer until every surviving peer "
        "reports it dead.",
        "",
        "| peers | trials | first peer sees dead | all agree dead | suspicion timeout "
        "floor / ceiling | false suspicions or deaths of others |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        floor, ceiling = cfg.suspicion_bounds(r.peers - 1)
        k = r.kills
        out.append(
            f"| {r.peers} | {len(k)} | {_s([x.first_dead for x in k])} | "
            f"{_s([x.all_dead for x in k])} | {floor:.2f} / {ceiling:.2f} | "
            f"{_odd([x.odd | x.rejoin.odd for x in k])} |"
        )
    out += [
        "",
        "**Join**, from starting the process: new peers (new names and ports) joining the "
        "settled cluster one at a time after the kill trials (N, then N+1, ... peers; then "
        "they leave one at a time with SIGTERM), and each killed peer restarted at once on "
        "its name and port (a new generation). *Joined*: every peer, the newcomer included, "
        "sees every peer alive, all at once; *flaps*: views that had that and lost it again "
        "(the newcomer suspected or declared dead after it was seen alive). *Formation*: all "
        "peers started together, one sample (process up: the last one to answer).",
        "",
        "| peers | peer | samples | process up (HTTP answers) | seen alive by every other "
        "peer | joined | joined, from process up | flaps | graceful leave seen by all |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        out.append(_join_row(r, "new", r.joins, _s(r.leaves)))
        out.append(_join_row(r, "restarted after kill", [x.rejoin for x in r.kills], "-"))
        up, joined = r.formation
        out.append(
            f"| {r.peers} | formation | 1 | {up:.2f} | - | {joined:.2f} | {joined - up:.2f} "
            "| - | - |"
        )
    out += [
        "",
        f"**At rest**: a settled cluster, no queries; counters read {results[0].rest_window:g} s "
        "apart. Membership bytes/s per peer (mean / max over the peers), direct probes per "
        "second per peer, and CPU in cores: the daemons / this bench / the whole host.",
        "",
        "| peers | sent B/s | received B/s | probes/s | CPU at rest | CPU during the kill trials |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        rest = r.rest
        d, b, h = r.kills_cpu
        out.append(
            f"| {r.peers} | {statistics.mean(rest.sent):.0f} / {max(rest.sent):.0f} | "
            f"{statistics.mean(rest.received):.0f} / {max(rest.received):.0f} | "
            f"{statistics.mean(rest.probes):.2f} | {rest.daemons_cpu:.2f} / "
            f"{rest.bench_cpu:.2f} / {rest.host_cpu:.2f} | {d:.2f} / {b:.2f} / {h:.2f} |"
        )
    out += [
        "",
        "Their figures, for comparison (not measured here): memberlist's LAN defaults detect a "
        f"dead node in {MEMBERLIST_DETECTION_S}; Serf's convergence model puts gossip traffic "
        f"at {SERF_BANDWIDTH}. Our targets (DESIGN.md): detection p50 <= 5 s, p99 <= 8 s at "
        "100 peers; join seen by all <= 3 s; <= 2 KB/s per peer, flat in N.",
        "",
    ]
    return "\n".join(out)


def command_line(peers_list: Sequence[int], trials: int) -> str:
    return (
        f"python -m sim.bench.loopback --peers {' '.join(map(str, peers_list))} --trials {trials}"
    )


async def run_loopback(
    peers_list: Sequence[int] = (3, 20),
    trials: int = 10,
    *,
    joins: int | None = None,
    seed: int = 1,
    settle_s: float = SETTLE_S,
    rest_s: float = REST_S,
) -> str:
    """Run the benchmark at each cluster size; a markdown section for docs/performance.md.
    `joins` brand-new peers join and leave per size (default: half the trials, at most 3);
    `seed` picks the victims."""
    fresh = max(1, min(3, trials // 2)) if joins is None else joins
    if any(n < 2 for n in peers_list) or trials < 1 or fresh < 1:
        raise ValueError("need at least 2 peers, 1 trial and 1 join")
    machine = _machine()
    rng = random.Random(seed)
    results = [await run_size(n, trials, fresh, rng, settle_s, rest_s) for n in peers_list]
    return format_report(results, command_line(peers_list, trials), machine)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sim.bench.loopback",
        description="Membership of real harombed processes on loopback (markdown report).",
    )
    parser.add_argument("--peers", type=int, nargs="+", default=[3, 20])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1, help="picks the victims")
    args = parser.parse_args(argv)
    print(asyncio.run(run_loopback(args.peers, args.trials, seed=args.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

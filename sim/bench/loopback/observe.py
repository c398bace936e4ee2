"""What the benchmark reads from the running peers: each one's view of the cluster (polled
until a condition holds), whether its HTTP server answers, and its membership counters."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import aiohttp

from sim.bench.loopback.processes import CpuMeter, Peer

POLL_S = 0.05  # status poll period per observer
METRIC = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$", re.M)

View = dict[str, str]


async def status(http: aiohttp.ClientSession, peer: Peer) -> View | None:
    """name -> state in `peer`'s view, or None while it does not answer."""
    try:
        async with http.get(f"{peer.url}/cluster/status") as resp:
            if resp.status != 200:
                return None
            body = await resp.json()
    except (aiohttp.ClientError, TimeoutError):
        return None
    return {node["name"]: node["state"] for node in body["nodes"]}


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

"""One cluster size from formation to the last leave, every size in turn, and the command."""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
from collections.abc import Sequence
from pathlib import Path

import aiohttp

from sim.bench.loopback.observe import measure_rest, watch
from sim.bench.loopback.processes import CpuMeter, cluster
from sim.bench.loopback.report import command_line, format_report, machine
from sim.bench.loopback.trials import SizeResult, joins_then_leaves, kill_and_restart

REQUEST_TIMEOUT_S = 5.0
FORMATION_TIMEOUT_S = 180.0
SETTLE_S = 5.0  # after formation, before the rest window: join gossip drains
REST_S = 20.0  # traffic window; push/pull phases are random, so the mean over peers is fair


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
    host = machine()
    rng = random.Random(seed)
    results = [await run_size(n, trials, fresh, rng, settle_s, rest_s) for n in peers_list]
    return format_report(results, command_line(peers_list, trials), host)


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

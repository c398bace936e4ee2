"""`python -m sim.bench [NAME ...] [--quick]`: benchmarks, printed as markdown.

A small registry: each benchmark is a function `(Options) -> markdown` registered under a
name; `all` runs every one. Membership and failover numbers come from scenarios on virtual time (so
they are the protocol's, independent of this machine's speed, except the wall-time rows); the
routing and classifier numbers are wall-clock microbenchmarks of this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from sim import faults
from sim.faults import At
from sim.report import Report, percentile
from sim.scenarios import CONVERGED, DETECTED, NO_FALSE_DEATHS, SCENARIOS, Params, Scenario
from sim.scenarios import run_scenario as play
from sim.workload import WorkloadSpec


@dataclass
class Options:
    quick: bool = False  # smaller runs (a smoke test)
    peers: list[int] | None = None  # cluster sizes for the membership benchmark


Benchmark = Callable[[Options], str]
BENCHMARKS: dict[str, Benchmark] = {}

WARMUP = 60.0  # membership bench: rest after the initial convergence, so join gossip drains
REST_UNTIL = 20.0  # then seconds of rest (the traffic window) before the faults
CRASH_TIMES = (20.0, 28.0, 36.0, 44.0)  # one crash each, far enough apart to time alone
LOSS_FROM = 48.0  # then 5 % loss, a join and a record change under it
MEMBERSHIP_DURATION = 60.0


def benchmark(name: str) -> Callable[[Benchmark], Benchmark]:
    def register(fn: Benchmark) -> Benchmark:
        BENCHMARKS[name] = fn
        return fn

    return register


def _membership_schedule(p: Params) -> list[At]:
    return [
        *(At(t, faults.Crash()) for t in CRASH_TIMES),
        At(LOSS_FROM, faults.Loss(0.05)),
        At(LOSS_FROM + 2.0, faults.Join()),
        At(LOSS_FROM + 7.0, faults.Touch()),
    ]


MEMBERSHIP_BENCH = Scenario(
    "bench-membership",
    "rest, four crashes, then 5 % loss with a join and a record change (membership only)",
    peers=100,
    schedule=_membership_schedule,
    checks=lambda p: (NO_FALSE_DEATHS, DETECTED, CONVERGED),
    duration=MEMBERSHIP_DURATION,
)


def _ms(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f} s"


def _dissemination(report: Report, what: str) -> str:
    times = [d["time"] for d in report.disseminations if d["what"] == what]
    return ", ".join(_ms(t) for t in times) or "n/a"


@benchmark("membership")
def membership(options: Options) -> str:
    sizes = options.peers or ((50, 200) if options.quick else (100, 1000))
    rows = []
    for n in sizes:
        params = Params(peers=n, duration=MEMBERSHIP_DURATION, warmup=WARMUP)
        r = play(MEMBERSHIP_BENCH, params)
        rest = r.bytes_per_peer_s_between(1.0, REST_UNTIL)
        worst = max(r.detection_all, default=None)
        rows.append(
            f"| {n} | {_ms(percentile(r.detection_all, 50))} / {_ms(worst)} "
            f"| {_ms(percentile(r.detection_per_observer, 50))} / "
            f"{_ms(percentile(r.detection_per_observer, 99))} "
            f"| {_dissemination(r, 'join')} | {_dissemination(r, 'record')} "
            f"| {r.false_deaths} | {rest or 0:,.0f} B/s "
            f"| {r.wall_startup_s:.1f} s + {r.wall_s - r.wall_startup_s:.1f} s "
            f"| {'ok' if r.ok else 'FAIL: ' + '; '.join(c.detail for c in r.checks if not c.ok)} |"
        )
    return "\n".join(
        [
            "### Membership (virtual time; membership only)",
            "",
            f"Each run: start the peers, wait until all agree, {WARMUP:g} s warm-up at rest "
            f"(the join gossip drains), {REST_UNTIL:g} s at rest (traffic measured), crashes at "
            f"{', '.join(f'{t:g}' for t in CRASH_TIMES)} s, 5 % loss from {LOSS_FROM:g} s with "
            f"a join at {LOSS_FROM + 2:g} s and a record change at {LOSS_FROM + 7:g} s, "
            f"{MEMBERSHIP_DURATION:g} s in all. Detection is kill -9 until every live peer "
            "marks the peer dead (per crash: p50 / max over the crashes; per observer: p50 / "
            "p99 over every peer's own detection); dissemination is until 99.99 % of the "
            "peers hold the news, under 5 % loss. Wall time: starting the peers until "
            "they agree + the rest (warm-up and scenario).",
            "",
            "| peers | detection, all peers (p50 / max) | detection per observer (p50 / p99) "
            "| join to 99.99 % at 5 % loss | record to 99.99 % at 5 % loss | false deaths "
            "| traffic per peer at rest | wall time (startup + run) | checks |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )


@benchmark("churn")
def churn(options: Options) -> str:
    scenario = SCENARIOS["churn"]
    params = Params(peers=30 if options.quick else scenario.peers, duration=scenario.duration)
    r = play(scenario, params)
    q = r.queries
    assert q is not None
    return "\n".join(
        [
            "### Failover under churn (virtual time)",
            "",
            f"{params.peers} peers, {q.sent} queries (Poisson, {scenario.workload.rate:g}/s, "  # type: ignore[union-attr]
            f"dev-set prompts), {r.crashes} peers killed over the run.",
            "",
            "| queries | completed | failed (entry peer died) | lost | fallbacks "
            "| latency p50 / p99 | first token p50 / p99 | checks |",
            "|---|---|---|---|---|---|---|---|",
            f"| {q.sent} | {q.completed} | {q.failed} ({q.failed_entry_down}) | {q.lost} "
            f"| {q.fallbacks} | {_ms(q.latency_p50)} / {_ms(q.latency_p99)} "
            f"| {_ms(q.ttft_p50)} / {_ms(q.ttft_p99)} | {'ok' if r.ok else 'FAIL'} |",
        ]
    )


LOAD_WARMUP = 30.0  # load bench: rest after the initial convergence (join gossip drains)
LOAD_DURATION = 40.0


@benchmark("load")
def load(options: Options) -> str:
    """Membership traffic per peer under queries, by cluster size and query rate."""
    sizes = options.peers or ((30, 60) if options.quick else (60, 240))
    rates = (2.0, 8.0) if options.quick else (2.0, 8.0, 24.0)
    rows = []
    for n in sizes:
        for rate in rates:
            scenario = Scenario(
                f"bench-load-{n}-{rate:g}",
                "queries at a steady rate, no faults",
                peers=n,
                schedule=lambda p: [],
                checks=lambda p: (CONVERGED,),
                workload=WorkloadSpec(rate=rate, max_tokens=200),
                duration=LOAD_DURATION,
            )
            r = play(scenario, Params(peers=n, duration=LOAD_DURATION, warmup=LOAD_WARMUP))
            q = r.queries
            assert q is not None
            rows.append(
                f"| {n} | {rate:g}/s | {q.busy_nodes} | {q.completed}/{q.sent} "
                f"| {r.bytes_per_peer_s:,.0f} B/s | {r.frames_per_peer_s:.1f} "
                f"| {r.wall_s:.0f} s | {'ok' if r.ok else 'FAIL'} |"
            )
    return "\n".join(
        [
            "### Membership traffic under queries (virtual time)",
            "",
            f"Each run: start the peers, wait until all agree, {LOAD_WARMUP:g} s at rest, then "
            f"{LOAD_DURATION:g} s of queries (Poisson, answers of 200 tokens) with traffic "
            "measured over those seconds. Busy nodes: distinct nodes that served a query.",
            "",
            "| peers | queries | busy nodes | completed | traffic per peer | frames/s per peer "
            "| wall | checks |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )


@benchmark("routing")
def routing(options: Options) -> str:
    from harombe.routing.balancer import bench_decision

    decisions = 5_000 if options.quick else 50_000
    rows = [f"| {n:,} | {bench_decision(n, decisions=decisions):.1f} µs |" for n in (10, 100, 1000)]
    return "\n".join(
        [
            "### Routing decision (wall clock)",
            "",
            f"`harombe.routing.balancer.bench_decision`: policy + balancer, {decisions:,} "
            "decisions, no classifier.",
            "",
            "| peers in view | time per decision |",
            "|---|---|",
            *rows,
        ]
    )


@benchmark("classifier")
def classifier(options: Options) -> str:
    from sim.bench.classifier_bench import run_classifier_bench

    return run_classifier_bench(options.quick)


@benchmark("judge")
def judge(options: Options) -> str:
    """The tier-0 judge against a real llama.cpp server (the demo model)."""
    from sim.bench.judge_bench import run_judge_bench

    return run_judge_bench(options.quick)


@benchmark("overhead")
def overhead(options: Options) -> str:
    """What a peer adds to a request vs the backend direct (real processes on loopback)."""
    from sim.bench.overhead import run_overhead

    return asyncio.run(run_overhead(50 if options.quick else 300))


@benchmark("answer-path")
def answer_path(options: Options) -> str:
    """harombe's own CPU per routed answer, in one process without sockets."""
    from harombe import event_loop
    from sim.bench.answer_path import run_answer_path

    return event_loop.run(run_answer_path(options.quick))  # harombed's loop


@benchmark("loopback")
def loopback(options: Options) -> str:
    """Detection, join and traffic of real harombed processes on loopback."""
    from sim.bench.loopback import run_loopback

    sizes = tuple(options.peers or ((3,) if options.quick else (3, 20)))
    return asyncio.run(run_loopback(sizes, 2 if options.quick else 10))


def machine() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.bench", description=__doc__)
    parser.add_argument(
        "names", nargs="*", default=["all"], help=f"all or any of: {', '.join(BENCHMARKS)}"
    )
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test)")
    parser.add_argument(
        "--peers", type=int, nargs="+", help="cluster sizes for membership (default 100 1000)"
    )
    args = parser.parse_args(argv)
    if args.peers and not all(2 <= n <= 10_000 for n in args.peers):
        parser.error("--peers: each size must be within 2..10000")
    options = Options(quick=args.quick, peers=args.peers)
    names = list(BENCHMARKS) if "all" in args.names else args.names
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(
            f"unknown benchmark(s) {', '.join(unknown)}; choose from all, {', '.join(BENCHMARKS)}"
        )
    logging.basicConfig(level=logging.ERROR)
    print(f"<!-- python -m sim.bench {' '.join(argv or sys.argv[1:])} on {machine()} -->")
    for name in names:
        started = time.perf_counter()
        print(BENCHMARKS[name](options))
        print(f"\n({name}: {time.perf_counter() - started:.1f} s wall)\n")
    return 0

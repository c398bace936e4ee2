"""Named failure scenarios and the runner that plays one and reports on it.

A scenario starts its peers, waits until every peer knows every other, then plays its schedule
of faults (times relative to that moment) under an optional query workload for `duration`
virtual seconds, lets the queries finish, and waits for the cluster to agree again. Its
invariants decide the exit status of `python -m sim`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from harombe.cluster.config import MembershipConfig
from sim import faults
from sim.clock import run
from sim.cluster import ClusterSpec, SimCluster
from sim.faults import At
from sim.report import Check, QueryStats, Report, Sample
from sim.workload import Workload, WorkloadSpec, load_prompts

NO_LOST = "no_lost"  # every query completes or gets an error
NO_FAILED = "no_failed"  # no query fails while its entry peer lives (failover hid the rest)
NO_FALSE_DEATHS = "no_false_deaths"  # no healthy, reachable peer declared dead
DETECTED = "detected"  # every crash seen by every live peer
CONVERGED = "converged"  # after the run every live peer agrees on who runs


@dataclass
class Params:
    peers: int
    seed: int = 1
    duration: float = 60.0
    loss: float | None = None  # overrides a loss scenario's rate
    warmup: float = 0.0  # virtual seconds at rest between the initial convergence and t=0
    startup_timeout: float = 300.0  # virtual seconds allowed for the initial convergence
    settle_timeout: float = 180.0  # ... and for convergence after the run
    sample_interval: float = 1.0
    converged_start: bool = False  # every peer starts knowing every other (no join storm)


@dataclass
class Scenario:
    name: str
    summary: str
    peers: int
    schedule: Callable[[Params], list[At]]
    checks: Callable[[Params], tuple[str, ...]]
    workload: WorkloadSpec | None = None
    duration: float = 60.0
    membership: MembershipConfig = field(default_factory=MembershipConfig)


def _crash_schedule(p: Params) -> list[At]:
    step = p.duration / 6
    return [At(step * (i + 0.5), faults.Crash()) for i in range(5)]


def _churn_schedule(p: Params) -> list[At]:
    """A third of the peers crash, spread over the middle half of the run."""
    victims = p.peers // 3
    start, span = p.duration * 0.15, p.duration * 0.5
    return [At(start + span * i / max(1, victims), faults.Crash()) for i in range(victims)]


def _loss_rate(default: float) -> Callable[[Params], float]:
    return lambda p: default if p.loss is None else p.loss


def _loss_scenario(name: str, rate: float) -> Scenario:
    get_rate = _loss_rate(rate)

    def schedule(p: Params) -> list[At]:
        return [
            At(0.0, faults.Loss(get_rate(p))),
            At(p.duration * 0.2, faults.Crash()),
            At(p.duration * 0.4, faults.Join()),
            At(p.duration * 0.6, faults.Touch()),
            At(p.duration * 0.8, faults.Loss(0.0)),
        ]

    def checks(p: Params) -> tuple[str, ...]:
        base = (NO_LOST, DETECTED, CONVERGED)
        return (*base, NO_FALSE_DEATHS) if get_rate(p) <= 0.05 else base

    return Scenario(
        name,
        f"{rate:.0%} uniform packet loss (--loss to change) for 80 % of the run: a crash, "
        "a join and a record change under loss; zero false deaths expected up to 5 %",
        peers=100,
        schedule=schedule,
        checks=checks,
        workload=WorkloadSpec(rate=2.0),
    )


def _fixed(*names: str) -> Callable[[Params], tuple[str, ...]]:
    return lambda p: names


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        Scenario(
            "crash",
            "five peers killed (kill -9) one after another under a light workload",
            peers=100,
            schedule=_crash_schedule,
            checks=_fixed(NO_LOST, NO_FALSE_DEATHS, DETECTED, CONVERGED),
            workload=WorkloadSpec(rate=1.0),
        ),
        Scenario(
            "partition",
            "30 % of the peers cut off for 20 s, then healed; both sides must merge again",
            peers=50,
            schedule=lambda p: [
                At(p.duration * 0.1, faults.Partition(0.3)),
                At(p.duration * 0.1 + 20.0, faults.Heal()),
            ],
            checks=_fixed(NO_LOST, NO_FALSE_DEATHS, CONVERGED),
            workload=WorkloadSpec(rate=2.0),
        ),
        Scenario(
            "churn",
            "a third of the peers killed during a steady workload: no query may be lost or fail",
            peers=60,
            schedule=_churn_schedule,
            checks=_fixed(NO_LOST, NO_FAILED, NO_FALSE_DEATHS, DETECTED, CONVERGED),
            workload=WorkloadSpec(rate=4.0),
        ),
        _loss_scenario("loss-5", 0.05),
        _loss_scenario("loss-20", 0.20),
        Scenario(
            "slow-node",
            "one peer handles frames 1 s late for 20 s, another's event loop stalls 5 s; "
            "healthy peers must not be declared dead",
            peers=50,
            schedule=lambda p: [
                At(p.duration * 0.1, faults.Starve(delay=1.0, duration=20.0)),
                At(p.duration * 0.5, faults.Stall(duration=5.0)),
            ],
            checks=_fixed(NO_LOST, NO_FALSE_DEATHS, CONVERGED),
            workload=WorkloadSpec(rate=2.0),
        ),
        Scenario(
            "flap",
            "one peer's network drops and returns every 3 s, four times",
            peers=50,
            schedule=lambda p: [At(p.duration * 0.1, faults.Flap(period=3.0, times=4))],
            checks=_fixed(NO_LOST, NO_FALSE_DEATHS, CONVERGED),
            workload=WorkloadSpec(rate=2.0),
        ),
        Scenario(
            "restart",
            "three peers crash and come back with a new generation; two leave gracefully",
            peers=50,
            schedule=lambda p: [
                At(p.duration * 0.1, faults.Crash(3)),
                At(p.duration * 0.4, faults.Restart(3)),
                At(p.duration * 0.6, faults.Leave(2)),
            ],
            checks=_fixed(NO_LOST, NO_FALSE_DEATHS, CONVERGED),
            workload=WorkloadSpec(rate=2.0),
        ),
        Scenario(
            "scale",
            "membership only (no workload), thousands of peers: crashes, a join, a record change",
            peers=1000,
            duration=30.0,
            schedule=lambda p: [
                At(p.duration * 0.1, faults.Crash(2)),
                At(p.duration * 0.4, faults.Join()),
                At(p.duration * 0.6, faults.Touch()),
            ],
            checks=_fixed(NO_FALSE_DEATHS, DETECTED, CONVERGED),
        ),
        Scenario(
            "rest",
            "no faults, no workload: membership traffic at rest",
            peers=100,
            duration=30.0,
            schedule=lambda p: [],
            checks=_fixed(NO_FALSE_DEATHS, CONVERGED),
        ),
    ]
}


def run_scenario(scenario: Scenario, params: Params) -> Report:
    """Play `scenario` on a fresh virtual loop; deterministic for `params.seed`."""
    wall = time.perf_counter()
    report = run(_play(scenario, params))
    report.wall_s = time.perf_counter() - wall
    return report


async def _play(scenario: Scenario, p: Params) -> Report:
    loop = asyncio.get_running_loop()
    spec = ClusterSpec(
        peers=p.peers,
        seed=p.seed,
        membership=scenario.membership,
        routing=scenario.workload is not None,
        converged_start=p.converged_start,
    )
    cluster = SimCluster(loop, spec)
    report = Report(scenario.name, p.peers, p.seed, p.duration)
    try:
        wall = time.perf_counter()
        await cluster.start()
        report.startup_converged_s = await cluster.wait_converged(p.startup_timeout)
        report.wall_startup_s = time.perf_counter() - wall
        t0 = loop.time() + p.warmup
        for step in scenario.schedule(p):
            loop.call_at(t0 + step.t, step.op.apply, cluster)
        workload = None
        if scenario.workload is not None:
            workload = Workload(
                cluster.random_live_peer,
                scenario.workload,
                random.Random(p.seed + 2),
                load_prompts(),
            )
        sampler = cluster.spawn(_sample(cluster, workload, report, t0, p.sample_interval))
        await asyncio.sleep(p.warmup)
        before = cluster.network.totals()
        if workload is not None:
            await workload.run(until=t0 + p.duration)
        await asyncio.sleep(max(0.0, t0 + p.duration - loop.time()))
        after = cluster.network.totals()
        peer_seconds = sum(s.running for s in report.samples if s.t >= 0) * p.sample_interval
        peer_seconds = peer_seconds or 1.0
        report.frames_per_peer_s = (after.frames_sent - before.frames_sent) / peer_seconds
        report.bytes_per_peer_s = (after.bytes_sent - before.bytes_sent) / peer_seconds
        if workload is not None:
            await workload.drain()
        settle = loop.time()
        converged = await cluster.wait_converged(p.settle_timeout)
        report.settle_converged_s = None if converged is None else loop.time() - settle
        sampler.cancel()
        _collect(report, cluster, workload, t0)
        report.checks = _checks(scenario.checks(p), report, converged is not None)
    finally:
        await cluster.stop()
    return report


async def _sample(
    cluster: SimCluster, workload: Workload | None, report: Report, t0: float, every: float
) -> None:
    loop = asyncio.get_running_loop()
    while True:
        low, mean, high = cluster.observer.view_stats()
        in_flight = sum(r.outcome == "pending" for r in workload.results) if workload else 0
        sent = cluster.network.totals().bytes_sent
        report.samples.append(
            Sample(loop.time() - t0, len(cluster.running), low, mean, high, in_flight, sent)
        )
        await asyncio.sleep(every)


def _collect(report: Report, cluster: SimCluster, workload: Workload | None, t0: float) -> None:
    o = cluster.observer
    detections = list(o.detections.values())
    report.crashes = len(detections)
    report.detection_all = [d.all_at - d.crashed_at for d in detections if d.all_at is not None]
    report.detection_first = [
        d.first_at - d.crashed_at for d in detections if d.first_at is not None
    ]
    report.detection_per_observer = [t for d in detections for t in d.per_observer]
    report.undetected = o.undetected()
    report.disseminations = [
        {
            "what": d.what,
            "subject": d.subject,
            "wanted": d.wanted,
            "seen": len(d.seen),
            "time": None if d.done_at is None else d.done_at - d.started,
        }
        for d in o.disseminations
    ]
    report.suspicions = o.suspicions
    report.false_deaths = len(o.false_deaths)
    report.false_death_examples = [
        f"t={d.at - t0:.2f} {d.observer} declared {d.subject} dead" for d in o.false_deaths[:5]
    ]
    report.expected_deaths = o.expected_deaths
    report.dropped = dict(cluster.network.dropped)
    if workload is not None:
        report.queries = QueryStats.of(workload.results)
        report.latencies = [
            (r.started - t0, r.latency if r.latency is not None else -1.0, r.outcome)
            for r in workload.results
        ]


def _checks(names: tuple[str, ...], r: Report, converged: bool) -> list[Check]:
    q = r.queries
    checks = [Check("startup", r.startup_converged_s is not None, "initial convergence")]
    for name in names:
        if name == NO_LOST and q is not None:
            checks.append(Check(name, q.lost == 0, f"{q.lost} of {q.sent} queries lost"))
        elif name == NO_FAILED and q is not None:
            failed = q.failed - q.failed_entry_down
            detail = f"{failed} of {q.sent} queries failed (not counting entry-peer deaths)"
            checks.append(Check(name, failed == 0, detail))
        elif name == NO_FALSE_DEATHS:
            detail = f"{r.false_deaths} false deaths" + (
                f" ({'; '.join(r.false_death_examples)})" if r.false_deaths else ""
            )
            checks.append(Check(name, r.false_deaths == 0, detail))
        elif name == DETECTED:
            missed = len(r.undetected)
            checks.append(Check(name, missed == 0, f"{missed} of {r.crashes} crashes undetected"))
        elif name == CONVERGED:
            detail = "every live peer agrees" if converged else "views still differ"
            checks.append(Check(name, converged, detail))
    return checks

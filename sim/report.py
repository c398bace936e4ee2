"""A scenario's measurements, the invariants checked on them, and their text and JSON forms."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from sim.workload import ENTRY_DOWN, QueryResult


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Sample:
    t: float  # seconds since the scenario's start
    running: int
    view_min: int
    view_mean: float
    view_max: int
    queries_in_flight: int
    bytes_sent: int  # membership bytes sent by all peers since the start of the simulation


@dataclass
class QueryStats:
    sent: int = 0
    completed: int = 0
    failed: int = 0
    failed_entry_down: int = 0  # of failed: every peer the client tried died under it
    lost: int = 0
    client_retries: int = 0
    fallbacks: int = 0
    latency_p50: float | None = None
    latency_p99: float | None = None
    ttft_p50: float | None = None
    ttft_p99: float | None = None
    classified_vs_served: dict[str, int] = field(default_factory=dict)  # "c->s": count
    classified_vs_gold: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    busy_nodes: int = 0  # distinct nodes that served a query

    @classmethod
    def of(cls, results: list[QueryResult]) -> QueryStats:
        done = [r for r in results if r.outcome == "completed"]
        latencies = [r.latency for r in done if r.latency is not None]
        ttfts = [r.ttft for r in done if r.ttft is not None]
        return cls(
            sent=len(results),
            completed=len(done),
            failed=sum(r.outcome == "failed" for r in results),
            failed_entry_down=sum(
                r.outcome == "failed" and (r.error or "").startswith(ENTRY_DOWN) for r in results
            ),
            lost=sum(r.outcome in ("lost", "pending") for r in results),
            client_retries=sum(r.client_retries for r in results),
            fallbacks=sum(r.fallbacks for r in results),
            latency_p50=percentile(latencies, 50),
            latency_p99=percentile(latencies, 99),
            ttft_p50=percentile(ttfts, 50),
            ttft_p99=percentile(ttfts, 99),
            classified_vs_served=dict(
                sorted(Counter(f"{r.classified_tier}->{r.served_tier}" for r in done).items())
            ),
            classified_vs_gold=dict(
                sorted(Counter(f"{r.gold_tier}->{r.classified_tier}" for r in results).items())
            ),
            errors=dict(Counter(r.error for r in results if r.error and r.outcome != "completed")),
            busy_nodes=len({r.node for r in done if r.node}),
        )


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    scenario: str
    peers: int
    seed: int
    duration: float
    wall_s: float = 0.0
    wall_startup_s: float = 0.0  # of wall_s: starting the peers until they all agree
    startup_converged_s: float | None = None
    settle_converged_s: float | None = None
    crashes: int = 0
    detection_all: list[float] = field(default_factory=list)  # per crash: until every peer knew
    detection_first: list[float] = field(default_factory=list)
    detection_per_observer: list[float] = field(default_factory=list)
    undetected: list[str] = field(default_factory=list)
    disseminations: list[dict[str, Any]] = field(default_factory=list)
    suspicions: int = 0
    false_deaths: int = 0
    false_death_examples: list[str] = field(default_factory=list)
    expected_deaths: int = 0
    frames_per_peer_s: float = 0.0
    bytes_per_peer_s: float = 0.0
    dropped: dict[str, int] = field(default_factory=dict)
    queries: QueryStats | None = None
    checks: list[Check] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    latencies: list[tuple[float, float, str]] = field(default_factory=list)  # (t, s, outcome)

    def bytes_per_peer_s_between(self, start: float, end: float) -> float | None:
        """Membership bytes sent per running peer per second between two sample times."""
        window = [x for x in self.samples if start <= x.t <= end]
        if len(window) < 2:
            return None
        first, last = window[0], window[-1]
        peers = sum(x.running for x in window) / len(window)
        return (last.bytes_sent - first.bytes_sent) / peers / (last.t - first.t)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def format(self) -> str:
        lines = [
            f"scenario {self.scenario}: {self.peers} peers, seed {self.seed}, "
            f"{self.duration:g} s virtual in {self.wall_s:.1f} s wall "
            f"({self.wall_startup_s:.1f} s of it starting the peers)",
            f"  startup: converged after {_s(self.startup_converged_s)}",
        ]
        if self.crashes:
            lines.append(
                f"  detection ({self.crashes} crashes, until every live peer marks dead): "
                f"p50 {_s(percentile(self.detection_all, 50))}, "
                f"p99 {_s(percentile(self.detection_all, 99))}, "
                f"max {_s(max(self.detection_all, default=None))}; first peer p50 "
                f"{_s(percentile(self.detection_first, 50))}; per observer p50/p99 "
                f"{_s(percentile(self.detection_per_observer, 50))}/"
                f"{_s(percentile(self.detection_per_observer, 99))}"
                + (f"; UNDETECTED {', '.join(self.undetected)}" if self.undetected else "")
            )
        for d in self.disseminations:
            lines.append(
                f"  dissemination of {d['what']} {d['subject']} to {d['wanted']} peers "
                f"(99.99 %): {_s(d['time'])}"
            )
        lines.append(
            f"  suspicions {self.suspicions}, false deaths {self.false_deaths}, "
            f"expected deaths (crashed, cut off or impaired) {self.expected_deaths}"
        )
        lines.append(
            f"  membership traffic per peer: {self.frames_per_peer_s:.1f} frames/s, "
            f"{self.bytes_per_peer_s:,.0f} B/s sent"
            + (f"; network drops {self.dropped}" if self.dropped else "")
        )
        q = self.queries
        if q is not None:
            lines += [
                f"  queries: sent {q.sent}, completed {q.completed}, failed {q.failed} "
                f"({q.failed_entry_down} as every entry peer tried died), lost {q.lost}; "
                f"fallbacks {q.fallbacks}, client retries {q.client_retries}",
                f"  latency p50 {_s(q.latency_p50)}, p99 {_s(q.latency_p99)}; "
                f"first token p50 {_s(q.ttft_p50)}, p99 {_s(q.ttft_p99)}",
                f"  classified->served tier: {_counts(q.classified_vs_served)}",
                f"  gold->classified tier: {_counts(q.classified_vs_gold)}",
            ]
            if q.errors:
                lines.append(f"  errors: {q.errors}")
        if self.settle_converged_s is not None:
            lines.append(f"  converged {self.settle_converged_s:.2f} s after the run")
        for c in self.checks:
            lines.append(f"  [{'ok' if c.ok else 'FAIL'}] {c.name}: {c.detail}")
        return "\n".join(lines)


def _s(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f} s"


def _counts(d: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in d.items()) or "none"

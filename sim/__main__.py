"""`python -m sim` lists the scenarios; `python -m sim NAME [options]` runs one.

The exit status is 0 when every invariant of the scenario held, 1 when one broke, 2 on bad
arguments.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path

import psutil

from sim.plot import PlotUnavailable, plot_report
from sim.scenarios import SCENARIOS, Params, run_scenario

MAX_PEERS = 10_000
ENTRY_BYTES = 360
"""Memory per (peer, member) pair: every peer holds every other one (measured: 0.36 GB peak
for 1,000 peers, start-up included), so a run needs about peers² × this."""
CONVERGED_ENTRY_BYTES = 100
"""The same with --converged-start, which skips the join storm's transient memory (measured:
about 100 bytes a pair of peak RSS from 2,000 to 3,000 peers, member tables stored by
column)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sim",
        description="Failure-injection scenarios: real harombe peers on virtual time.",
    )
    parser.add_argument("scenario", nargs="?", help="scenario name (omit to list them)")
    parser.add_argument("--peers", type=int, help="number of peers (default: the scenario's)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--duration", type=float, help="virtual seconds of the scenario")
    parser.add_argument(
        "--warmup", type=float, default=0.0, help="virtual seconds at rest before the faults"
    )
    parser.add_argument(
        "--converged-start",
        action="store_true",
        help="start every peer knowing every other instead of joining (no N² join storm)",
    )
    parser.add_argument("--loss", type=float, help="loss rate for the loss scenarios (0..1)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the report as JSON")
    parser.add_argument("--plot", type=Path, metavar="OUT.png", help="plot membership/latency")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show harombe's warnings (failovers...)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.scenario is None:
        width = max(map(len, SCENARIOS))
        for s in SCENARIOS.values():
            print(f"{s.name:<{width}}  {s.peers:>5} peers  {s.summary}")
        return 0
    scenario = SCENARIOS.get(args.scenario)
    if scenario is None:
        parser.error(f"unknown scenario {args.scenario!r}; choose from {', '.join(SCENARIOS)}")
    peers = args.peers if args.peers is not None else scenario.peers
    if not 2 <= peers <= MAX_PEERS:
        parser.error(f"--peers must be within 2..{MAX_PEERS}")
    per_pair = CONVERGED_ENTRY_BYTES if args.converged_start else ENTRY_BYTES
    need, free = peers * peers * per_pair, psutil.virtual_memory().available
    if need > free:
        fits = math.isqrt(free // per_pair)
        parser.error(
            f"{peers} peers need about {need / 2**30:.0f} GiB (each peer holds all {peers}: "
            f"~{per_pair} bytes a pair), and {free / 2**30:.0f} GiB is available; "
            f"up to about {fits} peers fit here"
        )
    if args.loss is not None and not 0.0 <= args.loss < 1.0:
        parser.error("--loss must be within [0, 1)")
    if args.duration is not None and args.duration <= 0:
        parser.error("--duration must be positive")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.ERROR)
    params = Params(
        peers=peers,
        seed=args.seed,
        duration=args.duration if args.duration is not None else scenario.duration,
        loss=args.loss,
        warmup=args.warmup,
        converged_start=args.converged_start,
    )
    report = run_scenario(scenario, params)
    print(report.format())
    if args.json:
        args.json.write_text(json.dumps(report.to_dict(), indent=2))
    if args.plot:
        try:
            plot_report(report, args.plot)
        except PlotUnavailable as exc:
            print(f"no plot: {exc}", file=sys.stderr)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

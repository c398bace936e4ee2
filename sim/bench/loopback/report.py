"""The benchmark's markdown section for docs/performance.md: the machine, one table per
question (detection, join, rest), and the figures of others to compare with."""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
from collections.abc import Sequence
from pathlib import Path

from harombe.cluster.config import MembershipConfig
from sim.bench.loopback.observe import POLL_S
from sim.bench.loopback.trials import Join, SizeResult

HEADING = "### Membership on loopback: real harombed processes"

# Their figures, not ours: memberlist's DefaultLANConfig and Serf's convergence simulator.
MEMBERLIST_DETECTION_S = "~10 s at 100 nodes (probe 1 s, suspicion mult 4)"
SERF_BANDWIDTH = "~42 KB/s per node (ceiling of their model)"


def _s(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} / {max(values):.2f}"


def machine() -> str:
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

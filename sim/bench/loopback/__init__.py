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

Modules: `processes` (the daemons and their CPU), `observe` (views, health, counters),
`trials` (join, kill, leave), `report` (markdown), `run` (sizes in turn, the command line).

`python -m sim.bench.loopback [--peers 3 20] [--trials 10]`
"""

from sim.bench.loopback.report import HEADING
from sim.bench.loopback.run import main, run_loopback

__all__ = ["HEADING", "main", "run_loopback"]

"""Smoke test of the loopback membership benchmark: real harombed processes, no timings checked."""

from __future__ import annotations

from sim.bench.loopback import HEADING, run_loopback


async def test_three_peers_one_trial_reports_every_row() -> None:
    report = await run_loopback((3,), 1, settle_s=0.5, rest_s=1.0)

    lines = report.splitlines()
    assert lines[0] == HEADING
    assert "`python -m sim.bench.loopback --peers 3 --trials 1`" in lines
    for row in (
        "| 3 | 1 |",
        "| 3 | new | 1 |",
        "| 3 | restarted after kill | 1 |",
        "| 3 | formation |",
    ):
        assert any(line.startswith(row) for line in lines), row
    rest_rows = [line for line in lines if line.startswith("| 3 |")]
    assert len(rest_rows) == 5

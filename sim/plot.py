"""Plots of a scenario report (matplotlib is optional: `pip install 'harombe[plot]'`)."""

from __future__ import annotations

from pathlib import Path

from sim.report import Report


class PlotUnavailable(RuntimeError):
    pass


def plot_report(report: Report, path: Path) -> None:
    """Membership over time (top) and query latency by start time (bottom), as one PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlotUnavailable(
            "plots need matplotlib: pip install 'harombe[plot]' (or pip install matplotlib)"
        ) from exc
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    t = [s.t for s in report.samples]
    top.plot(t, [s.running - 1 for s in report.samples], label="truth: running peers - 1")
    top.plot(t, [s.view_mean for s in report.samples], label="mean live members in views")
    top.fill_between(
        t,
        [s.view_min for s in report.samples],
        [s.view_max for s in report.samples],
        alpha=0.25,
        label="min..max over peers",
    )
    top.set_ylabel("members")
    top.set_title(f"{report.scenario}: {report.peers} peers, seed {report.seed}")
    top.legend(loc="lower left")
    for outcome, colour in (("completed", "tab:blue"), ("failed", "tab:red")):
        points = [(s, lat) for s, lat, o in report.latencies if o == outcome and lat >= 0]
        if points:
            bottom.scatter(*zip(*points, strict=True), s=6, c=colour, label=outcome)
    bottom.set_xlabel("seconds since start (virtual)")
    bottom.set_ylabel("query latency (s)")
    if report.latencies:
        bottom.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

"""A flood of refusals becomes one log line per interval, with the count."""

from __future__ import annotations

import logging

from harombe.ratelimited_log import RateLimitedLog


def test_one_line_per_interval_with_the_count(caplog):
    now = [100.0]
    limited = RateLimitedLog(logging.getLogger("flood"), 60.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="flood"):
        for _ in range(1000):
            limited.event("connections refused")
        now[0] += 61.0
        limited.event("connections refused")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("1 connections refused")
    assert lines[1].startswith("1000 connections refused")

"""Request statistics: slot windows on an injected clock, tallies that add up across peers,
percentiles from the shared histogram, and the outcome of each way a request can end."""

from __future__ import annotations

import pytest
from test_metrics import finished

from harombe.api.observe import Trace
from harombe.inference.types import ChatChunk
from harombe.stats.requests import (
    LATENCY_BOUNDS,
    RequestLog,
    Tally,
    fallback_reason,
    merge_windows,
    percentile,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_windows_forget_old_slots_and_total_keeps_everything():
    clock = Clock()
    log = RequestLog(slot_seconds=10, recent=3, clock=clock)
    log.finished(finished(node="a"))
    clock.now += 120  # two minutes later
    log.finished(finished(node="b"))
    log.finished(finished(node="b", outcome="error"))
    windows = log.windows()
    assert windows["minute"].requests == 2 and windows["minute"].by_node == {"b": 2}
    assert windows["hour"].requests == 3 and windows["total"].requests == 3
    clock.now += 3700  # over an hour later: only the since-start tally remembers
    assert log.windows()["hour"].requests == 0 and log.windows()["total"].requests == 3
    log.finished(finished(node="c"))
    assert len(log._slots) == 1  # old slots were dropped, memory stays bounded
    assert [r.node for r in log.recent] == ["c", "b", "b"]


def test_rates_and_a_json_round_trip_add_up():
    tally = Tally()
    for r in (
        finished(),
        finished(outcome="unavailable"),
        finished(outcome="client_error"),
        finished(fallbacks=("stalled", "error")),
    ):
        tally.add(r)
    d = tally.as_dict()
    assert d["errors"] == 1 and d["error_rate"] == 0.25  # client errors are not the cluster's
    assert d["fallbacks"] == 1 and d["fallback_rate"] == 0.25
    assert d["fallback_reasons"] == {"stalled": 1, "error": 1}
    twice = Tally.from_dict(d)
    twice += Tally.from_dict(d)
    assert twice.as_dict()["requests"] == 8 and twice.as_dict()["by_outcome"]["ok"] == 4


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"requests": -1},
        "nonsense",
        {"histogram": {"bounds_s": [1, 2], "duration": [], "ttft": []}},
    ],
)
def test_a_malformed_tally_from_a_peer_is_refused(bad):
    good = Tally().as_dict()
    doc = good | bad if isinstance(bad, dict) and bad else bad
    with pytest.raises(ValueError):
        merge_windows([{"minute": doc, "hour": good, "total": good}])


def test_percentiles_fall_in_the_right_bucket():
    tally = Tally()
    for seconds in [0.1] * 90 + [2.0] * 9 + [30.0]:
        tally.add(finished(duration_s=seconds))
    p = tally.as_dict()["latency_s"]
    # Within the bucket that holds the true value: one step of 1.25 either side.
    assert 0.1 / 1.25 <= p["p50"] <= 0.1 * 1.25
    assert 2.0 / 1.25 <= p["p99"] <= 2.0 * 1.25
    assert percentile([0] * (len(LATENCY_BOUNDS) + 1), 0.5) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("no first token within 5s", "first_token_timeout"),
        ("no progress within 30s", "stalled"),
        ("the answer ended before it was done", "ended_early"),
        ("model 'x' not found", "model_missing"),
        ("Cannot connect to host 10.0.0.2:8765", "unreachable"),
        ("HTTP 500 from the backend: 'secret detail'", "error"),
    ],
)
def test_fallback_reasons_are_a_closed_set(text, reason):
    assert fallback_reason(text) == reason


@pytest.mark.parametrize(
    ("final", "failed", "status", "outcome"),
    [
        (True, None, 200, "ok"),
        (False, None, 404, "client_error"),
        (False, None, 400, "client_error"),
        (False, None, 503, "unavailable"),
        (False, 504, 502, "timeout"),  # the deadline, though the API says 502
        (False, 502, 200, "error"),  # failed mid-stream, after the 200 was sent
        (False, None, 200, "cancelled"),  # the client stopped reading
        (False, None, None, "cancelled"),  # the client went away, handler cancelled
        (True, None, None, "ok"),
    ],
)
def test_trace_outcome(final, failed, status, outcome):
    trace = Trace("ollama", 0.0, final=ChatChunk(done=True) if final else None)
    trace.failed_status = failed
    assert trace.outcome(status) == outcome

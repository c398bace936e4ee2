"""Lifeguard pieces: suspicion timeout math, health awareness, broadcast queue."""

from __future__ import annotations

import pytest

from harombe.cluster.awareness import Awareness
from harombe.cluster.broadcast import BroadcastQueue
from harombe.cluster.config import MembershipConfig
from harombe.cluster.suspicion import Suspicion, remaining_suspicion_time


@pytest.mark.parametrize(
    ("n", "k", "elapsed", "min_t", "max_t", "expected"),
    [
        # memberlist suspicion_test.go TestSuspicion_remainingSuspicionTime, in seconds
        (0, 3, 0, 2, 30, 30),
        (1, 3, 2, 2, 30, 14),
        (2, 3, 3, 2, 30, 4.810371),
        (3, 3, 4, 2, 30, -2),
        (4, 3, 5, 2, 30, -3),
        (5, 3, 10, 2, 30, -8),
        (0, 0, 0, 2, 30, 2),
        (1, 1, 0, 2, 30, 2),
        (0, 1, 1, 2, 30, 29),
    ],
)
def test_remaining_suspicion_time(n, k, elapsed, min_t, max_t, expected):
    assert remaining_suspicion_time(n, k, elapsed, min_t, max_t) == pytest.approx(
        expected, abs=1e-3
    )


def test_suspicion_counts_each_independent_confirmation_once():
    s = Suspicion(start=10.0, k=3, min_timeout=2, max_timeout=30, first="a")
    assert s.deadline == 40.0
    assert not s.confirm("a")
    assert s.confirm("b") and not s.confirm("b")
    assert s.deadline == pytest.approx(10 + 30 - 28 * 0.5)
    assert s.confirm("c") and s.confirm("d")
    assert s.deadline == 12.0
    assert not s.confirm("e")


def test_suspicion_without_expected_confirmations_uses_the_floor():
    s = Suspicion(start=0.0, k=0, min_timeout=2, max_timeout=30, first="a")
    assert s.deadline == 2 and not s.confirm("b")


def test_suspicion_bounds_scale_with_log_cluster_size():
    cfg = MembershipConfig(probe_interval=1.0, suspicion_mult=4, suspicion_max_timeout_mult=6)
    assert cfg.suspicion_bounds(5) == (4.0, 24.0)
    assert cfg.suspicion_bounds(100) == pytest.approx((8.0, 48.0))
    assert cfg.suspicion_confirmations(100) == 2
    assert cfg.suspicion_confirmations(3) == 0


@pytest.mark.parametrize(
    ("deltas", "score", "scaled"),
    [
        ([], 0, 1.0),
        ([1], 1, 2.0),
        ([1, 1, -1], 1, 2.0),
        ([-5], 0, 1.0),
        ([3, 10], 7, 8.0),
        ([10, -2], 5, 6.0),
    ],
)
def test_awareness_score_is_clamped_and_scales_timeouts(deltas, score, scaled):
    a = Awareness(max_multiplier=8)
    for d in deltas:
        a.apply(d)
    assert a.score == score
    assert a.scale(1.0) == scaled


def test_retransmit_limit_grows_with_log_n():
    cfg = MembershipConfig(retransmit_mult=4)
    assert [cfg.retransmit_limit(n) for n in (1, 9, 10, 99, 1000)] == [4, 4, 8, 8, 16]


def test_broadcast_is_dropped_after_its_retransmit_limit():
    q = BroadcastQueue(100)
    q.queue("a", [1], 10)
    sends = 0
    while q.take(1000, 3, 10):
        sends += 1
    assert sends == 3 and len(q) == 0


def test_newer_broadcast_about_a_node_invalidates_the_older():
    q = BroadcastQueue(100)
    q.queue("a", ["old"], 10)
    q.take(1000, 5, 10)
    q.queue("a", ["new"], 10)
    assert len(q) == 1
    assert q.take(1000, 5, 10) == [["new"]]
    assert q.get("a").transmits == 1


def test_least_transmitted_go_first():
    q = BroadcastQueue(100)
    q.queue("a", ["a"], 10)
    q.take(1000, 5, 10)
    q.queue("b", ["b"], 10)
    q.queue("c", ["c"], 10)
    assert q.take(25, 5, 10) == [["c"], ["b"]]
    assert sorted(q.take(1000, 5, 10)) == [["a"], ["b"], ["c"]]
    assert {q.get(k).transmits for k in "abc"} == {2}


def test_take_respects_byte_budget_and_count():
    q = BroadcastQueue(100)
    for i in range(5):
        q.queue(str(i), [i], 100)
    assert len(q.take(250, 5, 10)) == 2
    assert len(q.take(10_000, 5, 1)) == 1


def test_queue_is_bounded_dropping_the_most_sent():
    q = BroadcastQueue(16)
    q.queue("old", ["old"], 1)
    q.take(1000, 10, 10)
    for i in range(16):
        q.queue(str(i), [i], 1)
    assert len(q) == 16 and q.get("old") is None


def test_a_broadcast_may_carry_its_own_retransmit_limit():
    q = BroadcastQueue(100)
    q.queue("load", ["load"], 10, limit=1)
    q.queue("alive", ["alive"], 10)
    assert sorted(q.take(1000, 3, 10)) == [["alive"], ["load"]]
    assert q.take(1000, 3, 10) == [["alive"]]
    assert len(q) == 1


def test_load_updates_are_sent_fewer_times_than_other_news():
    cfg = MembershipConfig(retransmit_mult=4, load_retransmit_mult=2)
    assert [cfg.load_retransmit_limit(n) for n in (9, 99, 1000)] == [2, 4, 8]


def test_replaced_broadcasts_are_swept_and_never_sent():
    q = BroadcastQueue(100)
    for i in range(500):
        q.queue("a", [i], 10)
    assert len(q) == 1 and sum(map(len, q._stacks)) < 100
    assert q.take(1000, 5, 10) == [[499]]


def test_take_gives_up_after_a_few_that_do_not_fit():
    q = BroadcastQueue(100)
    q.queue("small", ["small"], 10)
    for i in range(10):
        q.queue(str(i), [i], 500)
    assert len(q.take(400, 5, 10)) == 0  # the small one lies under ten that do not fit
    assert q.take(1000, 5, 10) == [[9], [8]]  # skipped ones keep their places

"""Balancer: expected wait, power of two choices, what is skipped, local ties, view versions."""

import collections
import random

from harombe.routing.balancer import Balancer, bench_decision, expected_wait, speed
from harombe.routing.breaker import BreakerBoard
from harombe.routing.policy import Group
from harombe.routing.view import Candidate, StaticView
from harombe.settings.routing import RoutingConfig

T1 = Group(tier=1)


def node(name: str, **kw) -> Candidate:
    kw.setdefault("tier", 1)
    kw.setdefault("capacity", 4)
    return Candidate(name=name, address=f"{name}:1", **kw)


def balancer(config: RoutingConfig | None = None, seed: int = 7) -> tuple[Balancer, BreakerBoard]:
    config = config or RoutingConfig()
    board = BreakerBoard.from_config(config, clock=lambda: 0.0)
    return Balancer(config, board, random.Random(seed)), board


def pick(b: Balancer, view: StaticView, group: Group = T1, **kw) -> str | None:
    choice = b.choose(view, group, **kw)
    return choice.candidate.name if choice.candidate else None


def test_expected_wait_grows_with_load():
    assert expected_wait(0.1, 10.0, 0, 4) == 0.1
    assert expected_wait(0.1, 10.0, 2, 4) == 5.1


def test_speed_uses_the_models_measurements_then_the_defaults():
    cfg = RoutingConfig()
    c = node("a", loaded=["m"], tps={"m": 50.0}, ttft={"m": 0.2})
    assert speed(c, "m", cfg) == (0.2, 50.0)
    assert speed(c, None, cfg) == (0.2, 50.0)  # the loaded model stands for the default
    assert speed(c, "other", cfg) == (cfg.default_ttft, cfg.default_tps)


def test_the_idle_node_wins_over_a_busy_one():
    b, _ = balancer()
    view = StaticView([node("busy", active=3), node("idle", active=0)])
    assert {pick(b, view) for _ in range(50)} == {"idle"}


def test_nearer_and_faster_nodes_win():
    b, _ = balancer()
    near = StaticView([node("far", rtt=0.2), node("near", rtt=0.001)])
    fast = StaticView([node("slow", tps={"m": 5.0}, loaded=["m"], active=1),
                       node("fast", tps={"m": 80.0}, loaded=["m"], active=1)])  # fmt: skip
    assert pick(b, near) == "near"
    assert pick(b, fast) == "fast"


def test_equal_nodes_share_the_load():
    b, _ = balancer()
    view = StaticView([node(f"n{i}") for i in range(4)])
    counts = collections.Counter(pick(b, view) for _ in range(400))
    assert set(counts) == {"n0", "n1", "n2", "n3"}
    assert min(counts.values()) > 50


def test_local_node_wins_ties_when_preferred():
    b, _ = balancer()
    view = StaticView([node(f"r{i}") for i in range(5)] + [node("me", is_local=True)])
    remote = node("r", rtt=0.0)
    tied = StaticView([remote, node("me", is_local=True)])
    assert {pick(b, view) for _ in range(30)} == {"me"}
    assert {pick(b, tied) for _ in range(30)} == {"me"}


def test_local_node_competes_like_any_other_when_not_preferred():
    b, _ = balancer(RoutingConfig(prefer_local=False))
    view = StaticView([node(f"r{i}") for i in range(3)] + [node("me", is_local=True)])
    assert len({pick(b, view) for _ in range(200)}) == 4


def test_unusable_nodes_are_skipped():
    b, board = balancer()
    view = StaticView([
        node("open"), node("down", backend_ok=False), node("tried"), node("full", active=4),
        node("ok", active=3),
    ])  # fmt: skip
    for _ in range(3):
        board.get("open").on_failure()
    assert {pick(b, view, exclude={"tried"}) for _ in range(50)} == {"ok"}


def test_full_means_worth_waiting_and_none_means_nothing_usable():
    b, board = balancer()
    full = b.choose(StaticView([node("a", active=4), node("b", queue=4)]), T1)
    assert full.candidate is None and full.full
    for _ in range(3):
        board.get("a").on_failure()
    gone = b.choose(StaticView([node("a"), node("b", backend_ok=False)]), T1)
    assert gone.candidate is None and not gone.full
    assert not b.choose(StaticView([node("c", tier=0)]), T1).full


def test_own_requests_in_flight_count_even_before_gossip_shows_them():
    b, _ = balancer()
    view = StaticView([node("a", capacity=2), node("b", capacity=2, active=1)])
    assert pick(b, view, inflight={"a": 2}) == "b"
    assert b.choose(view, T1, inflight={"a": 2, "b": 2}).full


def test_local_load_is_the_live_count_not_the_gossiped_one():
    b, _ = balancer()
    view = StaticView([node("me", is_local=True, active=4, capacity=4)])
    assert pick(b, view, inflight={}) == "me"
    assert b.choose(view, T1, inflight={"me": 4}).full


def test_without_load_balancing_the_lowest_wait_always_wins():
    b, _ = balancer(RoutingConfig(load_balance=False))
    view = StaticView([node(f"n{i}", active=i % 3, rtt=0.01 * i) for i in range(30)])
    assert {pick(b, view) for _ in range(20)} == {"n0"}


def test_large_groups_fall_back_to_a_scan_when_sampling_misses():
    b, _ = balancer()
    view = StaticView([node(f"n{i}", active=4) for i in range(500)] + [node("free")])
    assert pick(b, view) == "free"


def test_model_groups_select_by_model_and_loaded_state():
    b, _ = balancer()
    view = StaticView([
        node("loaded", tier=0, models=["m"], loaded=["m"]),
        node("disk", tier=2, models=["m"]),
        node("other", models=["x"], loaded=["x"]),
    ])  # fmt: skip
    assert pick(b, view, Group(model="m", loaded=True)) == "loaded"
    assert pick(b, view, Group(model="m", loaded=False)) == "disk"
    assert b.group_size(view, Group(model="nope", loaded=True)) == 0


def test_a_new_view_version_rebuilds_the_indexes():
    b, _ = balancer()
    view = StaticView([node("old")])
    assert pick(b, view) == "old"
    view.replace([node("new")])
    assert pick(b, view) == "new"


def test_bench_decision_reports_microseconds():
    assert bench_decision(50, decisions=200) > 0

"""Circuit breaker: one test per transition, on an injected clock."""

from harombe.routing.breaker import Breaker, BreakerBoard, BreakerState


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, threshold: int = 3, probes: int = 1) -> Breaker:
    return Breaker(threshold=threshold, cooldown=10.0, probes=probes, clock=clock)


def fail(b: Breaker, times: int) -> None:
    for _ in range(times):
        b.on_start()
        b.on_failure()


def test_closed_stays_closed_below_threshold_and_success_resets_the_count():
    b = breaker(Clock())
    fail(b, 2)
    assert b.state is BreakerState.CLOSED and b.allows()
    b.on_success()
    fail(b, 2)
    assert b.state is BreakerState.CLOSED and b.failures == 2


def test_closed_to_open_after_threshold_consecutive_failures():
    b = breaker(Clock())
    fail(b, 3)
    assert b.state is BreakerState.OPEN
    assert not b.allows()


def test_open_to_half_open_after_cooldown():
    clock = Clock()
    b = breaker(clock)
    fail(b, 3)
    clock.now = 9.9
    assert b.state is BreakerState.OPEN
    clock.now = 10.0
    assert b.state is BreakerState.HALF_OPEN and b.allows()


def test_half_open_admits_only_the_configured_probes():
    clock = Clock()
    b = breaker(clock, probes=2)
    fail(b, 3)
    clock.now = 10.0
    b.on_start()
    assert b.allows()
    b.on_start()
    assert not b.allows()
    b.on_abandon()  # a probe whose client went away frees its slot
    assert b.allows()


def test_half_open_to_closed_on_success():
    clock = Clock()
    b = breaker(clock)
    fail(b, 3)
    clock.now = 10.0
    b.on_start()
    b.on_success()
    assert b.state is BreakerState.CLOSED and b.failures == 0 and b.allows()


def test_half_open_to_open_on_failure_restarts_the_cooldown():
    clock = Clock()
    b = breaker(clock)
    fail(b, 3)
    clock.now = 10.0
    fail(b, 1)
    assert b.state is BreakerState.OPEN
    clock.now = 19.9
    assert b.state is BreakerState.OPEN
    clock.now = 20.0
    assert b.state is BreakerState.HALF_OPEN


def test_board_treats_unknown_nodes_as_closed_and_snapshots_known_ones():
    clock = Clock()
    board = BreakerBoard(threshold=1, cooldown=5.0, probes=1, clock=clock)
    assert board.allows("a") and board.snapshot() == {}
    board.get("a").on_failure()
    board.get("b").on_success()
    assert not board.allows("a") and board.allows("b")
    assert board.snapshot() == {"a": "open", "b": "closed"}
    clock.now = 5.0
    assert board.snapshot()["a"] == "half_open"

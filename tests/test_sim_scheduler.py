"""TimerQueue: many timers on one loop handle, on the virtual clock; and the simulated peers'
runners on it."""

from __future__ import annotations

import asyncio
from typing import Any

from sim.clock import run
from sim.cluster import ClusterSpec, SimCluster
from sim.scenarios import SCENARIOS, Params, run_scenario
from sim.scheduler import TimerQueue

Fired = list[tuple[float, str]]


def _recorder(loop: asyncio.AbstractEventLoop, fired: Fired):
    def record(label: str) -> None:
        fired.append((loop.time(), label))

    return record


def test_timers_fire_on_time_by_deadline_then_insertion() -> None:
    async def main() -> Fired:
        loop = asyncio.get_running_loop()
        queue, fired = TimerQueue(loop), []
        record = _recorder(loop, fired)
        for when, label in [(2.0, "a"), (1.0, "b"), (2.0, "c"), (1.0, "d"), (3.0, "e")]:
            queue.call_at(when, record, label)
        await asyncio.sleep(5)
        return fired

    assert run(main) == [(1.0, "b"), (1.0, "d"), (2.0, "a"), (2.0, "c"), (3.0, "e")]


def test_a_timer_never_runs_before_its_deadline() -> None:
    async def main() -> Fired:
        loop = asyncio.get_running_loop()
        queue, fired = TimerQueue(loop), []
        queue.call_at(1.0 + 1e-12, _recorder(loop, fired), "a")
        loop.call_at(1.0, lambda: None)  # within the loop's clock resolution of the timer
        await asyncio.sleep(5)
        return fired

    assert run(main) == [(1.0 + 1e-12, "a")]


def test_timers_and_loop_callbacks_interleave_by_time_whoever_holds_them() -> None:
    """The queue runs its later timers in one pass only up to the loop's next work: a loop
    timer, or a callback a timer made ready, comes first whenever it is due first."""

    async def main() -> Fired:
        loop = asyncio.get_running_loop()
        queue, fired = TimerQueue(loop), []
        record = _recorder(loop, fired)
        for i in range(1, 6):
            queue.call_at(float(i), record, f"q{i}")
        loop.call_at(2.5, record, "loop2.5")
        queue.call_at(3.5, lambda: loop.call_soon(record, "soon3.5"))
        queue.call_at(3.5, record, "q3.5")
        await asyncio.sleep(10)
        return fired

    assert run(main) == [
        (1.0, "q1"), (2.0, "q2"), (2.5, "loop2.5"), (3.0, "q3"), (3.5, "q3.5"),
        (3.5, "soon3.5"), (4.0, "q4"), (5.0, "q5"),
    ]  # fmt: skip


def test_a_cancelled_timer_never_fires() -> None:
    async def main() -> tuple[Fired, bool, int]:
        loop = asyncio.get_running_loop()
        queue, fired = TimerQueue(loop), []
        record = _recorder(loop, fired)
        queue.call_at(1.0, record, "a")
        late = queue.call_at(2.0, record, "b")
        late.cancel()
        await asyncio.sleep(5)
        return fired, late.cancelled(), len(queue)

    assert run(main) == ([(1.0, "a")], True, 0)


def test_cancelling_the_earliest_hands_over_to_the_next() -> None:
    async def main() -> Fired:
        loop = asyncio.get_running_loop()
        queue, fired = TimerQueue(loop), []
        record = _recorder(loop, fired)
        first = queue.call_at(1.0, record, "a")
        queue.call_at(3.0, record, "c")
        first.cancel()
        queue.call_at(2.0, record, "b")  # later than the cancelled one, earlier than the next
        await asyncio.sleep(5)
        return fired

    assert run(main) == [(2.0, "b"), (3.0, "c")]


def test_timers_scheduled_from_a_callback() -> None:
    async def main() -> Fired:
        loop = asyncio.get_running_loop()
        queue, fired = TimerQueue(loop), []
        record = _recorder(loop, fired)

        def spawn() -> None:
            record("spawn")
            queue.call_at(loop.time(), record, "due now")
            queue.call_at(1.5, record, "earlier than armed")

        queue.call_at(1.0, spawn)
        queue.call_at(1.0, record, "same deadline")
        queue.call_at(4.0, record, "armed")
        await asyncio.sleep(5)
        return fired

    assert run(main) == [
        (1.0, "spawn"),
        (1.0, "same deadline"),
        (1.0, "due now"),
        (1.5, "earlier than armed"),
        (4.0, "armed"),
    ]


def test_a_failing_callback_is_reported_and_the_others_still_run() -> None:
    async def main() -> tuple[Fired, list[dict[str, Any]]]:
        loop = asyncio.get_running_loop()
        errors: list[dict[str, Any]] = []
        loop.set_exception_handler(lambda _, context: errors.append(context))
        queue, fired = TimerQueue(loop), []
        record = _recorder(loop, fired)

        def fail() -> None:
            raise ValueError("boom")

        queue.call_at(1.0, fail)
        queue.call_at(1.0, record, "after")
        queue.call_at(2.0, record, "later")
        await asyncio.sleep(5)
        return fired, errors

    fired, errors = run(main)
    assert fired == [(1.0, "after"), (2.0, "later")]
    assert len(errors) == 1 and isinstance(errors[0]["exception"], ValueError)


def test_peers_share_one_loop_timer() -> None:
    async def main() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        cluster = SimCluster(loop, ClusterSpec(peers=30, seed=2, routing=False))
        await cluster.start()
        assert await cluster.wait_converged(30) is not None
        live = [h for h in loop._scheduled if not h.cancelled()]  # type: ignore[attr-defined]
        return len(live), len(cluster.timers)

    loop_timers, peer_timers = run(main)
    assert loop_timers <= 2  # the queue's and the network's
    assert peer_timers >= 30


def test_same_seed_same_run() -> None:
    def play() -> dict[str, Any]:
        report = run_scenario(SCENARIOS["scale"], Params(peers=40, seed=5, duration=12))
        assert report.ok, report.format()
        result = report.to_dict()
        result.pop("wall_s"), result.pop("wall_startup_s")
        return result

    first = play()
    assert first["crashes"] == 2 and first["false_deaths"] == 0
    assert first == play()

"""MembershipRunner on a real asyncio loop: three nodes over an in-memory send."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import pytest

from harombe.cluster.config import MembershipConfig
from harombe.cluster.membership import Membership, MemberState
from harombe.cluster.record import NodeRecord
from harombe.cluster.runner import MembershipRunner

WAIT = 10.0
LEFT, DEAD = MemberState.LEFT, MemberState.DEAD


class LoopNet:
    """Delivers frames with loop.call_soon; a node's runner is removed when it crashes."""

    def __init__(self) -> None:
        self.runners: dict[str, MembershipRunner] = {}

    def send(self, to: str, data: bytes) -> None:
        runner = self.runners.get(to)
        if runner is not None:
            asyncio.get_running_loop().call_soon(self._deliver, to, data)

    def _deliver(self, to: str, data: bytes) -> None:
        runner = self.runners.get(to)
        if runner is not None:
            runner.receive(data)

    def start(self, name: str, seeds: list[str]) -> MembershipRunner:
        loop = asyncio.get_running_loop()
        address = f"127.0.0.1:{9000 + len(self.runners)}"
        membership = Membership(
            MembershipConfig.local(),
            name=name,
            address=address,
            record=NodeRecord(name, address),
            send=self.send,
            now=loop.time(),
            rng=random.Random(name),
            generation=1,
        )
        runner = self.runners[address] = MembershipRunner(membership)
        runner.start()
        membership.join(seeds, loop.time())
        runner.wake()
        return runner


async def until(runners: list[MembershipRunner], pred: Callable[[], bool]) -> None:
    """Wait (at most WAIT seconds) until pred holds, re-checking on every membership event."""
    event = asyncio.Event()

    def changed(*_: object) -> None:
        event.set()

    for r in runners:
        r.membership.on_change.append(changed)
        r.membership.on_record.append(changed)
    async with asyncio.timeout(WAIT):
        while not pred():
            event.clear()
            await event.wait()


def states(runner: MembershipRunner, name: str) -> MemberState | None:
    view = runner.membership.get(name)
    return view.state if view else None


async def test_three_runners_converge_then_one_leaves_gracefully():
    net = LoopNet()
    a = net.start("a", [])
    b = net.start("b", [a.membership.address])
    c = net.start("c", [a.membership.address])
    runners = [a, b, c]
    await until(runners, lambda: all(r.membership.alive_count() == 3 for r in runners))
    await c.stop(leave=True)
    del net.runners[c.membership.address]
    await until([a, b], lambda: states(a, "c") is LEFT and states(b, "c") is LEFT)
    for r in (a, b):
        await r.stop(leave=False)


async def test_crashed_runner_is_detected_as_dead():
    net = LoopNet()
    a = net.start("a", [])
    b = net.start("b", [a.membership.address])
    c = net.start("c", [a.membership.address])
    await until([a, b, c], lambda: all(r.membership.alive_count() == 3 for r in (a, b, c)))
    await c.stop(leave=False)
    del net.runners[c.membership.address]
    await until([a, b], lambda: states(a, "c") is DEAD and states(b, "c") is DEAD)
    for r in (a, b):
        await r.stop(leave=False)


async def test_record_update_reaches_peers_after_wake():
    net = LoopNet()
    a = net.start("a", [])
    b = net.start("b", [a.membership.address])
    await until([b], lambda: b.membership.alive_count() == 2)
    loop = asyncio.get_running_loop()
    m = a.membership
    m.update_record(NodeRecord("a", m.address, models=["llama3.2:3b"]), loop.time())
    a.wake()
    await until([b], lambda: b.membership.get("a").record.models == ["llama3.2:3b"])
    for r in (a, b):
        await r.stop(leave=False)


async def test_runner_must_be_started_before_use():
    loop = asyncio.get_running_loop()
    m = Membership(
        MembershipConfig.local(), name="x", address="h:1", record=NodeRecord("x", "h:1"),
        send=lambda to, data: None, now=loop.time(), generation=1,
    )  # fmt: skip
    runner = MembershipRunner(m)
    with pytest.raises(RuntimeError):
        runner.receive(b"")


def test_rescheduling_a_tick_already_due_on_uvloop():
    """uvloop's `call_at` for a deadline already reached returns a handle without `when()`;
    scheduling again before it runs (two wakes, or a wake and then a leave) must not need it."""
    uvloop = pytest.importorskip("uvloop")

    async def wake_twice_then_leave() -> MemberState | None:
        net = LoopNet()
        a = net.start("a", [])  # start() and the wake after join both schedule at "now"
        a.wake()
        a.wake()
        await a.stop(leave=True, timeout=1.0)
        return states(a, "a")

    assert uvloop.run(wake_twice_then_leave()) == LEFT

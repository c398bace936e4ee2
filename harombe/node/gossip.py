"""One peer's membership on the running loop: the sans-I/O core and the runner that drives it.

Joining and changing the record are due at once: the core is told, then the runner is woken
so the news goes out now rather than at the next tick. Every peer (harombed, the simulator's,
the tests') does that through this one class.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence

from harombe.cluster.columns import MemberIds
from harombe.cluster.config import MembershipConfig
from harombe.cluster.membership import Membership, MemberView
from harombe.cluster.record import NodeRecord
from harombe.cluster.record_cache import RecordCache
from harombe.cluster.runner import CallAt, MembershipRunner


class Gossip:
    """`clock` is the loop's time (`now` for the core); the other arguments are Membership's
    and MembershipRunner's (`call_at`, `measure_loop_lag`)."""

    __slots__ = ("_clock", "membership", "runner", "started")

    def __init__(
        self,
        config: MembershipConfig,
        *,
        name: str,
        address: str,
        record: NodeRecord,
        send: Callable[[str, bytes], None],
        clock: Callable[[], float],
        generation: int,
        rng: random.Random,
        label: str = "harombe",
        keyring: Sequence[bytes] = (),
        wall_clock: Callable[[], float] | None = None,
        records: RecordCache | None = None,
        ids: MemberIds | None = None,
        call_at: CallAt | None = None,
        measure_loop_lag: bool = True,
    ) -> None:
        self._clock = clock
        self.membership = Membership(
            config,
            name=name,
            address=address,
            record=record,
            send=send,
            now=clock(),
            generation=generation,
            rng=rng,
            label=label,
            keyring=keyring,
            wall_clock=wall_clock,
            records=records,
            ids=ids,
        )
        self.runner = MembershipRunner(
            self.membership, measure_loop_lag=measure_loop_lag, call_at=call_at
        )
        self.started = False  # frames, joins and records are for a started one only

    def start(self, seeds: Iterable[str] = ()) -> None:
        """Start ticking on the running loop, and join through `seeds` if any."""
        self.runner.start()
        self.started = True
        if seeds := list(seeds):
            self.join(seeds)

    def receive(self, data: bytes) -> bool:
        """A frame from the transport; False when it was not a cluster member's."""
        return self.runner.receive(data)

    def join(self, addresses: list[str]) -> None:
        self.membership.join(addresses, self._clock())
        self.runner.wake()

    def publish(self, record: NodeRecord) -> None:
        """Gossip this peer's new record."""
        self.membership.update_record(record, self._clock())
        self.runner.wake()

    async def stop(self, *, leave: bool) -> None:
        """Stop ticking; with `leave`, first tell the cluster (peers mark it left, not dead)."""
        await self.runner.stop(leave=leave)

    def members(self) -> list[MemberView]:
        return self.membership.members()

    def alive_addresses(self) -> set[str]:
        """Every member seen alive, this peer included."""
        return {m.address for m in self.membership.members() if m.state.label == "alive"}

    def live_peers(self) -> dict[str, str]:
        """Name → address of every other member seen alive."""
        return {
            m.name: m.address
            for m in self.membership.members()
            if m.state.label == "alive" and not m.is_self
        }

    def is_joined(self) -> bool:
        """Whether this peer sees any other alive."""
        return self.membership.alive_count() > 1

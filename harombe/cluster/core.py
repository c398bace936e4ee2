"""What the parts of one node's membership share: who it is, its settings, the time of the
latest event, its timers, randomness, member table, health, statistics and listeners.

`now` only moves forward and only when the facade (`Membership`) is handed a time: nothing
here reads a clock.
"""

from __future__ import annotations

import collections
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harombe.cluster.awareness import Awareness
from harombe.cluster.columns import MemberIds
from harombe.cluster.config import MembershipConfig
from harombe.cluster.drops import DropLog
from harombe.cluster.members import Member, MemberTable, MemberView
from harombe.cluster.record_cache import RecordCache
from harombe.cluster.state import MemberState
from harombe.cluster.timers import Timers

log = logging.getLogger("harombe.cluster.membership")


@dataclass
class MembershipStats:
    frames_sent: int = 0
    frames_received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    dropped: collections.Counter[str] = field(default_factory=collections.Counter)
    """Dropped frames by reason: oversized, too_deep, malformed, out_of_range, bad_version,
    wrong_label, unauthenticated, replayed, stale, unknown_type, from_self, misdirected,
    internal_error."""
    send_errors: int = 0
    probes: int = 0
    probe_failures: int = 0
    indirect_probes: int = 0
    refutes: int = 0
    conflicts: int = 0


class Core:
    def __init__(
        self,
        config: MembershipConfig,
        me: Member,
        *,
        rng: random.Random,
        records: RecordCache,
        ids: MemberIds | None = None,
    ) -> None:
        """`ids`: the member id registry the table uses (default: one of its own)."""
        self.config = config
        self.name = me.name
        self.me = me
        self.now = me.state_since
        self.rng = rng
        self.records = records
        self.timers = Timers()
        self.table = MemberTable(me, rng, ids)
        self.awareness = Awareness(config.awareness_max_multiplier)
        self.stats = MembershipStats()
        self.drops = DropLog(self.stats.dropped, config.drop_log_interval, lambda: self.now)
        self.leaving = False
        self.base_rv = me.rv
        """Record version of our last change of anything but load (see messages.Load)."""
        self.on_change: list[Callable[[MemberView, MemberState | None], None]] = []
        self.on_record: list[Callable[[MemberView], None]] = []

    def view(self, m: Member) -> MemberView:
        return m.view(m == self.me)

    def changed(self, m: Member, prev: MemberState | None) -> None:
        self._notify(self.on_change, self.view(m), prev)

    def record_changed(self, m: Member) -> None:
        self._notify(self.on_record, self.view(m))

    def _notify(self, callbacks: list[Callable[..., None]], *args: Any) -> None:
        for callback in callbacks:
            try:
                callback(*args)
            except Exception:
                log.exception("membership: callback %r failed", callback)

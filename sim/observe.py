"""What the simulation measures about membership, from every peer's `on_change` callbacks.

Counters are kept incrementally (O(1) per change) so that 10,000 peers can be watched:
`live_view[o]` is how many others observer `o` holds alive or suspect, `seen_live[s]` how many
running observers hold subject `s` alive or suspect. A crash's detection time is when
`seen_live` of the victim reaches zero; a join's dissemination time is when it reaches the
wanted fraction of the running peers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from harombe.cluster.state import MemberState

if TYPE_CHECKING:
    from harombe.cluster.membership import MemberView

LIVE = frozenset({MemberState.ALIVE, MemberState.SUSPECT})


@dataclass
class Detection:
    subject: str
    crashed_at: float
    first_at: float | None = None
    all_at: float | None = None
    per_observer: list[float] = field(default_factory=list)


@dataclass
class Dissemination:
    subject: str
    what: str  # "join" | "record"
    started: float
    wanted: int  # observers that must see it (fraction of running peers at start)
    seen: set[str] = field(default_factory=set)
    done_at: float | None = None


@dataclass
class Death:
    at: float
    observer: str
    subject: str


class MembershipObserver:
    def __init__(
        self, clock: Callable[[], float], *, grace: float, fraction: float = 0.9999
    ) -> None:
        """`grace`: how long after a fault ends a death it caused still counts as expected
        (a suspicion started during the fault may expire just after it)."""
        self.clock = clock
        self.grace = grace
        self.fraction = fraction
        self.running: set[str] = set()
        self.impaired: set[str] = set()  # peers a fault made unreachable or slow on purpose
        self.live_view: dict[str, int] = {}
        self.seen_live: dict[str, int] = {}
        self.suspicions = 0
        self.false_deaths: list[Death] = []
        self.expected_deaths = 0
        self.detections: dict[str, Detection] = {}
        self.disseminations: list[Dissemination] = []
        self._watch: dict[str, list[Dissemination]] = {}
        self._record_marks: dict[str, tuple[str, Dissemination]] = {}
        self._partition_of: dict[str, int] = {}
        self._healed_at = -math.inf
        self._recovered_at: dict[str, float] = {}

    @property
    def now(self) -> float:
        return self.clock()

    # -- truth, told by the cluster ----------------------------------------------------------

    def started(self, name: str) -> None:
        self.running.add(name)
        self.live_view[name] = 0
        self.seen_live.setdefault(name, 0)

    def stopped(self, name: str, view: Iterable[MemberView], *, crashed: bool) -> None:
        """`name` stopped; `view` is its last membership list (its opinions are withdrawn)."""
        self.running.discard(name)
        self.impaired.discard(name)
        for member in view:
            if not member.is_self and member.state in LIVE:
                self._seen_live_add(member.name, -1)
        self.live_view.pop(name, None)
        if crashed and self.seen_live.get(name, 0) > 0:
            self.detections[name] = Detection(name, self.now)
        else:
            self._check_detection(name)

    def recover(self, name: str) -> None:
        self.impaired.discard(name)
        self._recovered_at[name] = self.now

    def set_partition(self, groups: list[set[str]] | None) -> None:
        if groups is None:
            self._healed_at = self.now
        self._partition_of = {}
        for index, group in enumerate(groups or [], start=1):
            for name in group:
                self._partition_of[name] = index

    def watch_join(self, name: str) -> Dissemination:
        return self._watch_start(name, "join")

    def watch_record(self, name: str, marker: str) -> Dissemination:
        """Time until observers see a record of `name` whose models include `marker`."""
        d = self._watch_start(name, "record")
        self._record_marks[name] = (marker, d)
        return d

    def _watch_start(self, name: str, what: str) -> Dissemination:
        others = len(self.running - {name})
        d = Dissemination(name, what, self.now, math.ceil(self.fraction * others))
        self.disseminations.append(d)
        if what == "join":
            self._watch.setdefault(name, []).append(d)
        return d

    def adopted(self, observers: list[str], subjects: list[str]) -> None:
        """Each of `observers` came to hold every one of `subjects` alive at once, knowing
        none of them before (a converged start): what on_change would count, without a call
        per pair."""
        watching = [o for o in observers if o in self.running]
        subject_set = set(subjects)
        for o in watching:
            self.live_view[o] += len(subjects) - (o in subject_set)
        observer_set = set(watching)
        for s in subjects:
            self._seen_live_add(s, len(watching) - (s in observer_set))

    # -- callbacks from every peer --------------------------------------------------------------

    def on_change(self, observer: str, view: MemberView, previous: MemberState | None) -> None:
        if view.is_self or observer not in self.running:
            return
        subject = view.name
        was_live = previous in LIVE
        is_live = view.state in LIVE
        if is_live and not was_live:
            self.live_view[observer] += 1
            self._seen_live_add(subject, 1)
            for d in self._watch.get(subject, ()):
                self._saw(d, observer)
        elif was_live and not is_live:
            self.live_view[observer] -= 1
            self._seen_live_add(subject, -1)
        if view.state is MemberState.SUSPECT and previous is not MemberState.SUSPECT:
            self.suspicions += 1
        if view.state is MemberState.DEAD and previous is not MemberState.DEAD:
            self._death(observer, subject)

    def on_record(self, observer: str, view: MemberView) -> None:
        mark = self._record_marks.get(view.name)
        if mark is not None and view.record is not None and mark[0] in view.record.models:
            self._saw(mark[1], observer)

    def _death(self, observer: str, subject: str) -> None:
        detection = self.detections.get(subject)
        if detection is not None and subject not in self.running:
            detection.per_observer.append(self.now - detection.crashed_at)
            if detection.first_at is None:
                detection.first_at = self.now
            return
        if subject in self.running and self._healthy_pair(observer, subject):
            self.false_deaths.append(Death(self.now, observer, subject))
        else:
            self.expected_deaths += 1

    def _healthy_pair(self, a: str, b: str) -> bool:
        """Whether a and b can talk, and every fault touching them ended over `grace` ago."""
        recent = self.now - self.grace
        if a in self.impaired or b in self.impaired:
            return False
        if self._recovered_at.get(a, -math.inf) > recent:
            return False
        if self._recovered_at.get(b, -math.inf) > recent:
            return False
        if self._partition_of.get(a, 0) != self._partition_of.get(b, 0):
            return False
        # After a heal, claims made on the other side ("dead") reach everyone before the
        # accused refutes them: within the grace period such deaths are the partition's.
        return self._healed_at <= recent

    def _seen_live_add(self, subject: str, delta: int) -> None:
        self.seen_live[subject] = self.seen_live.get(subject, 0) + delta
        if delta < 0:
            self._check_detection(subject)

    def _check_detection(self, subject: str) -> None:
        detection = self.detections.get(subject)
        if (
            detection is not None
            and detection.all_at is None
            and subject not in self.running
            and self.seen_live.get(subject, 0) <= 0
        ):
            detection.all_at = self.now

    def _saw(self, d: Dissemination, observer: str) -> None:
        if d.done_at is not None or observer == d.subject or observer in d.seen:
            return
        d.seen.add(observer)
        if len(d.seen) >= d.wanted:
            d.done_at = self.now

    # -- questions ------------------------------------------------------------------------------

    def converged(self) -> bool:
        """Every running peer holds exactly the running others alive, and nobody else."""
        want = len(self.running) - 1
        return (
            all(self.live_view.get(n) == want for n in self.running)
            and all(self.seen_live.get(n, 0) == want for n in self.running)
            and all(v <= 0 for n, v in self.seen_live.items() if n not in self.running)
        )

    def view_stats(self) -> tuple[int, float, int]:
        """(min, mean, max) of live members seen by running peers."""
        counts = [self.live_view[n] for n in self.running] or [0]
        return min(counts), sum(counts) / len(counts), max(counts)

    def undetected(self) -> list[str]:
        return sorted(n for n, d in self.detections.items() if d.all_at is None)

"""What routing reads of the cluster: a list of candidate nodes and a version that changes with it.

Routing never touches the membership core directly: `MembershipView` adapts it, `StaticView`
serves tests and a node configured by hand. Only ALIVE members with a record are candidates. A
SUSPECT member is left out: it has missed probes, so a request sent there would most likely
wait out a timeout, while a false suspicion is refuted within a few probe periods (Lifeguard),
so leaving it out briefly costs little.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from harombe.cluster.state import MemberState
from harombe.settings.routing import RoutingConfig


@dataclass
class Candidate:
    """One node routing may send work to, as this observer sees it."""

    name: str
    address: str
    tier: int = 0
    models: list[str] = field(default_factory=list)
    loaded: list[str] = field(default_factory=list)
    capacity: int = 1
    active: int = 0
    queue: int = 0
    tps: dict[str, float] = field(default_factory=dict)
    ttft: dict[str, float] = field(default_factory=dict)
    rtt: float | None = None  # seconds, measured by this observer; None for self or unmeasured
    backend_ok: bool = True
    is_local: bool = False
    state: str = MemberState.ALIVE.value
    hardware: dict[str, Any] = field(default_factory=dict)
    version: str = ""
    ctx: dict[str, int] = field(default_factory=dict)  # context window (tokens) per model
    tool_models: list[str] = field(default_factory=list)  # models that call tools
    via: str | None = None
    """For a plain inference server: the peer that sponsors it (whose `address` this is)."""


class ClusterView(Protocol):
    @property
    def version(self) -> int:
        """Changes whenever `candidates()` may return something different."""
        ...

    def candidates(self) -> list[Candidate]: ...


class StaticView:
    """A fixed list of candidates; `replace` swaps it (tests, one node, hand-written clusters)."""

    def __init__(self, candidates: Iterable[Candidate] = ()) -> None:
        self._candidates = list(candidates)
        self._version = 0

    @property
    def version(self) -> int:
        return self._version

    def candidates(self) -> list[Candidate]:
        return self._candidates

    def replace(self, candidates: Iterable[Candidate]) -> None:
        self._candidates = list(candidates)
        self._version += 1


class MembershipView:
    """Adapts `harombe.cluster.membership.Membership` (duck-typed: `members()`, `on_change`).

    Joins, deaths and suspicions mark the view dirty through the membership's `on_change`
    callback and are seen by the next decision. Load and RTT change all the time, so they are
    re-read at most every `max_age` seconds: with many peers a re-read costs O(peers), and
    routing decisions must stay cheap.
    """

    def __init__(
        self,
        membership: Any,
        *,
        max_age: float = RoutingConfig.model_fields["view_max_age"].default,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._membership = membership
        self._max_age = max_age
        self._clock = clock
        self._candidates: list[Candidate] = []
        self._version = 0
        self._read_at = -float("inf")
        self._dirty = True
        membership.on_change.append(self._mark_dirty)

    def _mark_dirty(self, *_: Any) -> None:
        self._dirty = True

    def _refresh(self) -> None:
        now = self._clock()
        if self._dirty or now - self._read_at >= self._max_age:
            self._dirty = False
            self._read_at = now
            self._candidates = candidates_from_members(self._membership.members())
            self._version += 1

    @property
    def version(self) -> int:
        self._refresh()
        return self._version

    def candidates(self) -> list[Candidate]:
        self._refresh()
        return self._candidates


def candidates_from_members(members: Iterable[Any]) -> list[Candidate]:
    """ALIVE members with a record, and the plain servers they sponsor, as candidates (see
    the module docstring for SUSPECT), less every node an alive member excludes."""
    members = list(members)
    alive = [m for m in members if m.state is MemberState.ALIVE and m.record is not None]
    excluded = excluded_names(members)
    out = _member_candidates(alive) + sponsored_candidates(alive)
    return [c for c in out if c.name not in excluded]


def excluded_names(members: Iterable[Any]) -> set[str]:
    """Nodes the cluster does not route to: the union of the `excluded` lists of members that
    are alive or suspect (a suspicion, often false, must not lift an exclusion)."""
    return {
        name
        for m in members
        if m.state in (MemberState.ALIVE, MemberState.SUSPECT) and m.record is not None
        for name in m.record.excluded
    }


def sponsored_candidates(alive: list[Any]) -> list[Candidate]:
    """One candidate per plain server that alive members sponsor, reached through one sponsor:
    this node when it is one, else a sponsor whose check succeeded, else the first by name.
    A harombe peer of the same name wins over a plain server."""
    peers = {m.name for m in alive}
    best: dict[str, tuple[tuple[bool, bool, str], Any, Any]] = {}
    for m in alive:
        for node in m.record.sponsored:
            if node.name in peers:
                continue
            rank = (not m.is_self, not node.ok, m.name)
            if node.name not in best or rank < best[node.name][0]:
                best[node.name] = (rank, m, node)
    out = []
    for _, m, node in best.values():
        out.append(
            Candidate(
                name=node.name,
                address=m.record.address,
                tier=node.tier,
                models=node.models,
                loaded=node.models,
                capacity=1,
                rtt=None if m.is_self else m.rtt,
                backend_ok=node.ok,
                state=m.state.label,
                hardware={"kind": node.kind},
                version=m.record.version,
                via=m.name,
            )
        )
    return out


def _member_candidates(alive: list[Any]) -> list[Candidate]:
    out = []
    for m in alive:
        rec = m.record
        out.append(
            Candidate(
                name=m.name,
                address=rec.address,
                tier=rec.tier,
                models=rec.models,
                loaded=rec.loaded,
                capacity=max(rec.capacity, 1),
                active=rec.active,
                queue=rec.queue,
                tps=rec.tps,
                ttft=rec.ttft,
                rtt=None if m.is_self else m.rtt,
                backend_ok=rec.backend_ok,
                is_local=m.is_self,
                state=m.state.label,
                hardware=rec.hardware,
                version=rec.version,
                ctx=rec.ctx,
                tool_models=rec.tool_models,
            )
        )
    return out

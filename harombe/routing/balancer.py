"""Pick one node from a group of candidates: expected wait, power of d choices, breakers.

Expected wait of node n, as this observer sees it:

    rtt(n) + ttft(n) + load(n) / capacity(n) × expected_answer_tokens / tps(n)

where load = max(gossiped active, requests this peer has in flight there) + gossiped queue
(for the local node: the live count only). It grows with utilisation, so comparing two nodes
prefers the emptier, faster, nearer one.

Choosing: sample `balancer_choices` nodes of the group at random and take the one with the
lowest expected wait (plus the local node when `prefer_local`; it wins ties). Sampling keeps
coordinators whose views are equally stale from all herding onto the same "best" node
(Mitzenmacher's power of two choices), and costs O(d) per decision instead of O(peers): the
per-group arrays are built once per view version. Nodes whose breaker is open, whose backend
is down, that were already tried, or that are at capacity are skipped; only when sampling finds
none does a decision scan the whole group.

What the request needs (`fit.Needs`) narrows the group further: a node whose context window
for the serving model is smaller than the prompt is skipped, and a request with tools goes to
nodes whose model calls tools when any can take it, else to the others, with a note saying so.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from harombe.routing.breaker import BreakerBoard
from harombe.routing.fit import Needs, calls_tools, fits, in_group, window
from harombe.routing.policy import Group, make_plan
from harombe.routing.view import Candidate, ClusterView, StaticView
from harombe.settings.routing import RoutingConfig

SAMPLE_ROUNDS = 4
"""Samples of `balancer_choices` nodes drawn before a decision falls back to scanning the
group: with a third of a group unusable, 4 rounds of 2 all miss once in ~6,500 decisions."""


@dataclass(slots=True, eq=False)
class _Entry:
    candidate: Candidate
    name: str
    base_s: float  # rtt + time to first token
    service_s: float  # seconds one answer takes at the node's measured speed
    capacity: int
    active: int
    queue: int
    is_local: bool


@dataclass(slots=True)
class _GroupIndex:
    entries: list[_Entry]
    local: _Entry | None


@dataclass
class Choice:
    """A balancer decision: the node, or none and whether that was only for lack of room."""

    candidate: Candidate | None
    full: bool = False  # usable nodes exist but all are at capacity: worth waiting
    note: str | None = None  # a compromise made, e.g. tools sent to a node without them


def speed(candidate: Candidate, model: str | None, config: RoutingConfig) -> tuple[float, float]:
    """(ttft seconds, tokens/s) for `model` on the node, or for its default model."""
    key = model
    if key is None:
        key = next((m for m in candidate.loaded if m in candidate.tps), None)
    tps = candidate.tps.get(key) if key else None
    ttft = candidate.ttft.get(key) if key else None
    if tps is None and candidate.tps and model is None:
        tps = max(candidate.tps.values())
    if ttft is None and candidate.ttft and model is None:
        ttft = min(candidate.ttft.values())
    return (
        config.default_ttft if ttft is None else ttft,
        config.default_tps if not tps or tps <= 0 else tps,
    )


def expected_wait(base_s: float, service_s: float, load: int, capacity: int) -> float:
    return base_s + load / capacity * service_s


class Balancer:
    def __init__(
        self, config: RoutingConfig, breakers: BreakerBoard, rng: random.Random | None = None
    ) -> None:
        self._config = config
        self._breakers = breakers
        self._rng = rng or random.Random()
        self._view: ClusterView | None = None
        self._version: int | None = None
        self._indexes: dict[Group, _GroupIndex] = {}

    def _index(self, view: ClusterView, group: Group) -> _GroupIndex:
        version = view.version
        if version != self._version or view is not self._view:
            self._view, self._version = view, version
            self._indexes = {}
        index = self._indexes.get(group)
        if index is None:
            index = self._indexes[group] = self._build(view.candidates(), group)
        return index

    def _build(self, candidates: Sequence[Candidate], group: Group) -> _GroupIndex:
        entries, local = [], None
        tokens = self._config.expected_answer_tokens
        for c in candidates:
            if not in_group(c, group):
                continue
            ttft, tps = speed(c, group.model, self._config)
            entry = _Entry(
                candidate=c,
                name=c.name,
                base_s=(c.rtt or 0.0) + ttft,
                service_s=tokens / tps,
                capacity=max(c.capacity, 1),
                active=0 if c.is_local else c.active,
                queue=0 if c.is_local else c.queue,
                is_local=c.is_local,
            )
            entries.append(entry)
            if c.is_local:
                local = entry
        return _GroupIndex(entries, local)

    def assess(
        self,
        view: ClusterView,
        group: Group,
        inflight: Mapping[str, int] | None = None,
        needs: Needs | None = None,
    ) -> list[dict[str, object]]:
        """Every node of `group` with its expected wait, or why it cannot serve now."""
        rows: list[dict[str, object]] = []
        fit = _Fit(group.model, needs)
        for e in self._index(view, group).entries:
            wait, why = _assess(e, (), inflight or {}, self._breakers, fit)
            rows.append(
                {
                    "node": e.name,
                    "tier": e.candidate.tier,
                    "local": e.is_local,
                    "expected_wait_s": None if wait is None else round(wait, 4),
                    "skipped": why,
                }
            )
        return rows

    def group_size(self, view: ClusterView, group: Group) -> int:
        return len(self._index(view, group).entries)

    def choose(
        self,
        view: ClusterView,
        group: Group,
        exclude: Collection[str] = (),
        inflight: Mapping[str, int] | None = None,
        needs: Needs | None = None,
    ) -> Choice:
        """The node to try next in `group`. `inflight`: requests this peer has running per
        node (for the local node: everything its backend serves now); `needs`: what the
        request needs of a node (context window, tools)."""
        if needs is not None and needs.tools:
            choice = self._choose(view, group, exclude, inflight, _Fit(group.model, needs, True))
            if choice.candidate is not None:
                return choice
            fallback = self._choose(view, group, exclude, inflight, _Fit(group.model, needs))
            if fallback.candidate is not None:
                fallback.note = f"no node in {group.label()} that calls tools could take it"
            return fallback
        return self._choose(view, group, exclude, inflight, _Fit(group.model, needs))

    def _choose(
        self,
        view: ClusterView,
        group: Group,
        exclude: Collection[str],
        inflight: Mapping[str, int] | None,
        fit: _Fit,
    ) -> Choice:
        index = self._index(view, group)
        entries = index.entries
        if not entries:
            return Choice(None)
        inflight = inflight or {}
        breakers = self._breakers
        full = False

        def score(e: _Entry) -> float | None:
            """Expected wait, or None when the node cannot take the request now."""
            nonlocal full
            wait, why = _assess(e, exclude, inflight, breakers, fit)
            full = full or why == BUSY
            return wait

        config = self._config
        if config.load_balance:
            k = config.balancer_choices
            n = len(entries)
            if n <= k:  # all of them, in random order: ties go to the first
                sample = self._rng.sample(entries, n)
                best = _best(sample, score, index.local if config.prefer_local else None)
            else:
                local = index.local if config.prefer_local else None
                best = None
                for _ in range(SAMPLE_ROUNDS):
                    sample = [entries[i] for i in self._rng.sample(range(n), k)]
                    best = _best(sample, score, local)
                    if best is not None:
                        break
                    local = None
                else:
                    usable = [e for e in entries if score(e) is not None]
                    if usable:
                        picks = self._rng.sample(usable, k) if len(usable) > k else usable
                        best = _best(picks, score, None)
        else:
            best = _best(entries, score, index.local if config.prefer_local else None)
        return Choice(best.candidate if best else None, full=full and best is None)


BUSY = "at capacity"


@dataclass(frozen=True, slots=True)
class _Fit:
    """The request's needs as one decision checks them against each node."""

    model: str | None
    needs: Needs | None
    tools_only: bool = False

    def why_not(self, c: Candidate) -> str | None:
        if self.needs is None:
            return None
        if not fits(c, self.model, self.needs):
            size = window(c, self.model) or 0
            return f"context window {size:,} < {self.needs.prompt_tokens:,} tokens"
        if self.tools_only and not calls_tools(c, self.model):
            return "model does not call tools"
        return None


def _assess(
    e: _Entry,
    exclude: Collection[str],
    inflight: Mapping[str, int],
    breakers: BreakerBoard,
    fit: _Fit,
) -> tuple[float | None, str | None]:
    """(expected wait, None) for a node that can take the request now, else (None, why not)."""
    if e.name in exclude:
        return None, "already tried"
    if (unfit := fit.why_not(e.candidate)) is not None:
        return None, unfit
    if not e.candidate.backend_ok:
        return None, "backend down"
    if not breakers.allows(e.name):
        return None, "circuit breaker open"
    load = max(e.active, inflight.get(e.name, 0)) + e.queue
    if load >= e.capacity:
        return None, BUSY
    return expected_wait(e.base_s, e.service_s, load, e.capacity), None


def _best(
    entries: Sequence[_Entry], score: Callable[[_Entry], float | None], local: _Entry | None
) -> _Entry | None:
    """Lowest expected wait among `entries` (and `local`, which wins ties)."""
    best, best_score = None, float("inf")
    if local is not None:
        local_score = score(local)
        if local_score is not None:
            best, best_score = local, local_score
    for e in entries:
        if e is best:
            continue
        s = score(e)
        if s is not None and s < best_score:
            best, best_score = e, s
    return best


def bench_decision(n_peers: int, decisions: int = 20_000, seed: int = 1) -> float:
    """Microseconds per routing decision (policy + balancer, no classifier) with `n_peers`
    candidates spread over the three tiers with random load, breakers closed."""
    rng = random.Random(seed)
    view = StaticView(
        Candidate(
            name=f"node-{i}",
            address=f"10.0.{i // 250}.{i % 250}:8765",
            tier=i % 3,
            loaded=["m"],
            models=["m"],
            capacity=rng.randint(1, 8),
            active=rng.randint(0, 4),
            tps={"m": rng.uniform(10, 100)},
            ttft={"m": rng.uniform(0.1, 2)},
            rtt=rng.uniform(0.0002, 0.05),
            is_local=i == 0,
        )
        for i in range(n_peers)
    )
    config = RoutingConfig()
    balancer = Balancer(config, BreakerBoard.from_config(config, time.monotonic), rng)
    inflight = {"node-0": 1}
    for tier in range(3):  # build the indexes outside the timing
        balancer.choose(view, Group(tier=tier))
    started = time.perf_counter()
    for i in range(decisions):
        plan = make_plan("auto", i % 3, config.fallback_strategy, lambda: 0)
        balancer.choose(view, plan.groups[0], (), inflight)
    return (time.perf_counter() - started) / decisions * 1e6

"""The cluster-wide `Coordinator`: plan, pick, forward, fail over, continue mid-stream.

One answer's life (`routed.RoutedAnswer`, which sees the Dispatcher only through its public
methods):

1. plan: the request's model and tier decide the groups of nodes to try, in order (policy);
   `Dispatcher.plan` makes the one `Plan` both dispatch (`open`) and `harombe route`
   (`decide`) use;
2. pick: the balancer takes the best usable node of the first group that has one; when every
   usable node is at capacity the request waits, bounded by `max_queue`, `queue_timeout` and
   its deadline, for a slot (a request finishing here wakes it; the gossip view is re-read
   every `queue_poll_interval`), then gets a 503 with `retry_after`;
3. forward: the local backend directly, any other node through `connect(candidate)` (in
   `harombed` a `PeerBackend`, whose hop header makes the peer serve it itself);
4. fail over: a failure before the first token (error, or no token within
   `first_token_timeout`) moves on to the next node; a failure mid-answer (error, or silence
   longer than `chunk_timeout`) too, and the next node is asked to *continue* the answer.

Continuation sends the same messages plus the partial answer as a final assistant message.
Servers that support assistant prefill (Ollama, llama.cpp's server, vLLM) then continue that
text rather than start again, so the client sees one answer: partial + continuation. The
alternative, an extra user turn asking to "continue where you stopped", works on every server
but models often repeat or re-introduce the answer, which the client would see verbatim.

Embeddings take a shorter path (`embeddings.py`): a node serving the named model, the next
one on a node failure; no tier, no continuation.

Every path ends in a complete answer or a `BackendError`: 404 unknown model, 503 (with
`retry_after`) nothing usable or saturated, 504 deadline, 502 every attempt failed. Requests
with `local_only` (forwarded by a peer: the hop header) are served by the local backend or
fail; they are never routed again, so requests cannot loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from harombe.inference.types import (
    Backend,
    BackendError,
    ChatChunk,
    ChatRequest,
    EmbedRequest,
    LoadedModel,
    Message,
    ModelInfo,
    ModelNotFoundError,
)
from harombe.routing.balancer import Balancer
from harombe.routing.breaker import BreakerBoard
from harombe.routing.classifier import Classification, explain
from harombe.routing.embeddings import route_embedding
from harombe.routing.fit import PromptTooLargeError, calls_tools, fitted
from harombe.routing.judge import Judge
from harombe.routing.policy import Plan, is_virtual, make_plan
from harombe.routing.route import ClusterModel, Embedded, RouteOptions, UnavailableError
from harombe.routing.routed import DeadlineError, RoutedAnswer, Slot
from harombe.routing.view import Candidate, ClusterView
from harombe.settings.routing import RoutingConfig

log = logging.getLogger(__name__)

Connect = Callable[[Candidate], Backend]
Explain = Callable[[list[Message]], Classification]

__all__ = ["DeadlineError", "Decision", "Dispatcher", "UnavailableError"]


@dataclass
class Decision:
    """Where a request would go now and why (`harombe route`), from the same `Plan` as dispatch."""

    plan: Plan
    node: str | None  # None: no usable node now
    tier: int | None
    all_busy: bool  # no node now only because every usable one is at capacity
    candidates: list[dict[str, Any]]  # every node considered, with its score or why not
    notes: list[str]  # what else dispatch would do or refuse (too large, no tool calling)

    @property
    def reasons(self) -> list[str]:
        """The classifier's reasons, when it ran, then the notes."""
        found = self.plan.classification
        return [*(found.reasons if found else []), *self.notes]

    @property
    def features(self) -> dict[str, Any]:
        found = self.plan.classification
        return dict(found.features) if found else {}

    def as_dict(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "tier": self.tier,
            "wanted_tier": self.plan.wanted_tier,
            "classified_tier": self.plan.classified_tier,
            "model": self.plan.model,
            "order": [g.label() for g in self.plan.groups],
            "reasons": self.reasons,
            "all_busy": self.all_busy,
            "features": self.features,
            "candidates": self.candidates,
        }


class Dispatcher:
    """Routes requests over the cluster `view`; see the module docstring.

    `local_backend` serves requests picked for this node (the view's `is_local` candidate) and
    every `local_only` request; None on a node that only routes. `connect` makes the Backend
    for another node (called once per address, kept until `aclose`). Time is the running
    loop's (`loop.time()`), so a simulator's virtual-time loop drives deadlines and breakers;
    `rng` makes the balancer's choices reproducible; `explain` classifies a request's messages.
    """

    def __init__(
        self,
        *,
        node_name: str,
        local_backend: Backend | None,
        view: ClusterView,
        connect: Connect,
        config: RoutingConfig | None = None,
        explain: Explain = explain,
        rng: random.Random | None = None,
    ) -> None:
        self.node_name = node_name
        self.config = config or RoutingConfig()
        self.view = view
        self._local_backend = local_backend
        self._connect = connect
        self._explain = explain
        self._local_tier_cache: tuple[int, int | None] | None = None  # (view version, tier)
        self.breaker_board = BreakerBoard.from_config(self.config, self.now)
        self._balancer = Balancer(self.config, self.breaker_board, rng)
        self._remotes: dict[tuple[str, str], Backend] = {}
        self._inflight: dict[str, int] = {}
        self._slots: dict[str, set[Slot]] = {}
        self._waiting = 0
        self._load_changed = asyncio.Event()
        self.judge = Judge.from_config(self.config, self._ask_judge, self.now)

    # ---- Coordinator -------------------------------------------------------------------

    def plan(self, request: ChatRequest, options: RouteOptions) -> Plan:
        """The nodes to try for `request`, in order, and what it needs of them: the one plan
        both dispatch (`open`) and `harombe route` (`decide`) use. ModelNotFoundError (404)
        for a real model no node serves; PromptTooLargeError (4xx) for a prompt no candidate's
        context window holds."""
        return fitted(self._draft(request, options), request, self.view.candidates())

    def open(self, request: ChatRequest, options: RouteOptions) -> RoutedAnswer:
        """Plan now (so an unknown model fails here, with 404); nodes are tried on iteration.
        A `local_only` request (forwarded by a peer) is served by the local backend only."""
        plan = None if options.local_only else self.plan(request, options)
        return RoutedAnswer(self, request, options, plan)

    def _served_plan(self, model: str) -> Plan:
        """The plan for a real model some node serves; an untagged name also matches its
        ":latest" (Ollama clients send "llama3.2" for "llama3.2:latest"). ModelNotFoundError
        (404) when no node serves it."""
        for name in (model,) if ":" in model else (model, f"{model}:latest"):
            plan = make_plan(name, None, self.config.fallback_strategy, lambda: 0)
            if any(self._balancer.group_size(self.view, g) for g in plan.groups):
                return plan
        raise ModelNotFoundError(model)

    def decide(self, request: ChatRequest, options: RouteOptions) -> Decision:
        """Where `request` would go now and why, without sending it (`harombe route`)."""
        notes: list[str] = []
        try:
            plan = self.plan(request, options)
        except PromptTooLargeError as exc:
            plan = self._draft(request, options)
            notes.append(f"would be refused: {exc}")
        candidate, full = self._pick(plan, set())
        if request.tools and candidate is not None and not calls_tools(candidate, plan.model):
            notes.append(f"no node that calls tools could take it; {candidate.name} may not")
        candidates = [
            {"group": group.label(), **row}
            for group in plan.groups
            for row in self._balancer.assess(self.view, group, self._inflight, plan.needs)
        ]
        return Decision(
            plan=plan,
            node=candidate.name if candidate else None,
            tier=candidate.tier if candidate else None,
            all_busy=full,
            candidates=candidates,
            notes=notes,
        )

    def _draft(self, request: ChatRequest, options: RouteOptions) -> Plan:
        """The plan before it is fitted to the nodes' windows and tool calling. The classifier
        runs only when neither the model nor the options name a tier; its explanation travels
        in `plan.classification`."""
        if not is_virtual(request.model):
            assert request.model is not None  # not virtual
            return self._served_plan(request.model)
        found: list[Classification] = []

        def classify() -> int:
            found.append(self._explain(request.messages))
            return found[0].tier

        plan = make_plan(
            request.model, options.prefer_tier, self.config.fallback_strategy, classify
        )
        return dataclasses.replace(plan, classification=found[0]) if found else plan

    async def embed(self, request: EmbedRequest, options: RouteOptions) -> Embedded:
        """Embeddings from a node serving the named model; the next one if a node fails."""
        limit = options.timeout or self.config.request_timeout
        if options.local_only:
            return await route_embedding(self, request, None, limit)
        if is_virtual(request.model):
            raise BackendError("embeddings need a real model name", status=400, retryable=False)
        assert request.model is not None  # not virtual
        plan = self._served_plan(request.model)
        request = dataclasses.replace(request, model=plan.model)
        return await route_embedding(self, request, plan, limit)

    async def models(self) -> list[ClusterModel]:
        """Every model some usable node serves, with the nodes serving and holding it; its
        details as this node's backend reports them, its context window the smallest any
        serving node reports (what a client can count on wherever the request lands)."""
        infos: dict[str, ModelInfo] = {}
        loaded: dict[str, LoadedModel] = {}
        if self._local_backend is not None:
            try:
                infos = {m.name: m for m in await self._local_backend.list_models()}
                loaded = {m.name: m for m in await self._local_backend.loaded_models()}
            except BackendError as exc:
                log.warning("listing local models failed: %s", exc)
        out: dict[str, ClusterModel] = {}
        for c in self.view.candidates():
            if not c.backend_ok:
                continue
            for name in c.models:
                entry = out.get(name)
                if entry is None:
                    entry = out[name] = ClusterModel(infos.get(name, ModelInfo(name)), [])
                entry.nodes.append(c.name)
                if name in c.loaded:
                    entry.loaded_on.append(c.name)
                if c.is_local:
                    entry.loaded = loaded.get(name)
                window = c.ctx.get(name)
                if window and (entry.info.context_length or window) >= window:
                    entry.info.context_length = window
        return list(out.values())

    # ---- what the daemon reads ---------------------------------------------------------

    def load(self) -> tuple[int, int]:
        """(answers this node's backend is producing now, requests waiting here for a slot)."""
        return self._inflight.get(self.node_name, 0), self._waiting

    def in_flight(self) -> dict[str, int]:
        """Answers this peer is getting from each node now (itself included)."""
        return dict(self._inflight)

    def breakers(self) -> dict[str, str]:
        return self.breaker_board.snapshot()

    def status(self) -> list[dict[str, Any]]:
        """The view as /cluster/status reports it (for nodes without a membership)."""
        breakers = self.breakers()
        return [
            {
                "name": c.name,
                "address": c.address,
                "state": c.state,
                "available": c.backend_ok and breakers.get(c.name, "closed") != "open",
                "self": c.is_local,
                "tier": c.tier,
                "models": c.models,
                "loaded": c.loaded,
                "active": c.active,
                "queue": c.queue,
                "capacity": c.capacity,
                "load": round(c.active / c.capacity, 3) if c.capacity else 0.0,
                "backend_ok": c.backend_ok,
                "hardware": c.hardware,
                "version": c.version,
                "rtt_ms": round(c.rtt * 1000, 3) if c.rtt is not None else None,
                "last_update_s": None,
                "breaker": breakers.get(c.name, "closed"),
            }
            for c in self.view.candidates()
        ]

    async def aclose(self) -> None:
        remotes, self._remotes = self._remotes, {}
        for backend in remotes.values():
            await backend.aclose()

    def node_lost(self, name: str, reason: str = "was declared dead") -> None:
        """Abort every answer this peer is getting from node `name`: each fails over at once
        (and continues elsewhere) instead of waiting out `chunk_timeout`."""
        for slot in list(self._slots.get(name, ())):
            slot.lose(reason)

    # ---- what a routed answer uses (`routed.Nodes`) --------------------------------------

    @staticmethod
    def now() -> float:
        return asyncio.get_running_loop().time()

    def _ask_judge(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """The judge's question, routed like any tier-0 request."""
        return aiter(self.open(request, RouteOptions()))

    def local_backend(self) -> Backend:
        if self._local_backend is None:
            raise BackendError(f"{self.node_name} has no local backend", status=503)
        return self._local_backend

    def backend_for(self, candidate: Candidate) -> Backend:
        if candidate.is_local:
            return self.local_backend()
        key = (candidate.name, candidate.address)  # a sponsor's address serves several names
        backend = self._remotes.get(key)
        if backend is None:
            backend = self._remotes[key] = self._connect(candidate)
        return backend

    @contextmanager
    def slot(self, node: str) -> Iterator[Slot]:
        """Count an answer from `node` while it runs (load, queue wake-ups, `node_lost`)."""
        slot = Slot(node)
        self._inflight[node] = self._inflight.get(node, 0) + 1
        self._slots.setdefault(node, set()).add(slot)
        try:
            yield slot
        finally:
            self._slots[node].discard(slot)
            if not self._slots[node]:
                del self._slots[node]
            left = self._inflight[node] - 1
            if left:
                self._inflight[node] = left
            else:
                del self._inflight[node]
            self._load_changed.set()
            self._load_changed = asyncio.Event()

    def local_tier(self) -> int | None:
        version = self.view.version
        if self._local_tier_cache is None or self._local_tier_cache[0] != version:
            tier = next((c.tier for c in self.view.candidates() if c.is_local), None)
            self._local_tier_cache = (version, tier)
        return self._local_tier_cache[1]

    async def next_node(self, plan: Plan, tried: set[str], deadline: float) -> Candidate:
        """The best usable node not yet `tried`, waiting (bounded) for a slot when all are
        full; UnavailableError (503 with `retry_after`) when there is none."""
        candidate, full = self._pick(plan, tried)
        if candidate is not None:
            return candidate
        cfg = self.config
        what = _describe(plan)
        if not full:
            raise UnavailableError(f"no usable node for {what}", retry_after=cfg.retry_after)
        if self._waiting >= cfg.max_queue:
            raise UnavailableError(
                f"every node for {what} is busy and {cfg.max_queue} requests already wait",
                retry_after=cfg.retry_after,
            )
        until = min(deadline, self.now() + cfg.queue_timeout)
        self._waiting += 1
        try:
            while (left := until - self.now()) > 0:
                event = self._load_changed
                try:
                    async with asyncio.timeout(min(left, cfg.queue_poll_interval)):
                        await event.wait()
                except TimeoutError:
                    pass
                candidate, full = self._pick(plan, tried)
                if candidate is not None:
                    return candidate
                if not full:
                    raise UnavailableError(
                        f"no usable node for {what}", retry_after=cfg.retry_after
                    )
        finally:
            self._waiting -= 1
        raise UnavailableError(f"every node for {what} is at capacity", retry_after=cfg.retry_after)

    # ---- internals ---------------------------------------------------------------------

    def _pick(self, plan: Plan, tried: set[str]) -> tuple[Candidate | None, bool]:
        """The node to try next, or (None, whether usable nodes exist but are all full)."""
        full = False
        for group in plan.groups:
            choice = self._balancer.choose(self.view, group, tried, self._inflight, plan.needs)
            if choice.candidate is not None:
                return choice.candidate, False
            full = full or choice.full
        return None, full


def _describe(plan: Plan) -> str:
    if plan.model is not None:
        return f"model {plan.model!r}"
    tiers = ", ".join(str(g.tier) for g in plan.groups)
    return f"tier {plan.wanted_tier} (trying tiers {tiers})"

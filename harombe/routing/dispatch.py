"""The cluster-wide `Coordinator`: plan, pick, forward, fail over, continue mid-stream.

One answer's life (`_Routed._run`):

1. plan: the request's model and tier decide the groups of nodes to try, in order (policy);
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
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from harombe.inference.types import (
    Backend,
    BackendError,
    ChatChunk,
    ChatRequest,
    Message,
    ModelInfo,
    ModelNotFoundError,
)
from harombe.routing.balancer import Balancer
from harombe.routing.breaker import BreakerBoard
from harombe.routing.classifier import classify, explain
from harombe.routing.fit import PromptTooLargeError, calls_tools, fitted
from harombe.routing.judge import Judge
from harombe.routing.policy import Plan, is_virtual, make_plan
from harombe.routing.route import ClusterModel, RouteInfo, RouteOptions, Switch
from harombe.routing.view import Candidate, ClusterView
from harombe.settings.routing import RoutingConfig

log = logging.getLogger(__name__)

Connect = Callable[[Candidate], Backend]
Classify = Callable[[list[Message]], int]


class UnavailableError(BackendError):
    """No node can take the request now; `retry_after` (seconds) is the client's hint."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, status=503, retryable=False)
        self.retry_after = retry_after


@dataclass
class Decision:
    plan: Plan
    node: str | None  # None: no usable node now
    tier: int | None
    reasons: list[str]  # the classifier's, when it ran
    all_busy: bool  # no node now only because every usable one is at capacity
    features: dict[str, Any]  # the classifier's, when it ran
    candidates: list[dict[str, Any]]  # every node considered, with its score or why not

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


class DeadlineError(BackendError):
    def __init__(self, timeout: float) -> None:
        message = f"no complete answer within the {timeout:g}s deadline"
        super().__init__(message, status=504, retryable=False)


class Dispatcher:
    """Routes requests over the cluster `view`; see the module docstring.

    `local_backend` serves requests picked for this node (the view's `is_local` candidate) and
    every `local_only` request; None on a node that only routes. `connect` makes the Backend
    for another node (called once per address, kept until `aclose`). Time is the running
    loop's (`loop.time()`), so a simulator's virtual-time loop drives deadlines and breakers;
    `rng` makes the balancer's choices reproducible.
    """

    def __init__(
        self,
        *,
        node_name: str,
        local_backend: Backend | None,
        view: ClusterView,
        connect: Connect,
        config: RoutingConfig | None = None,
        classify: Classify = classify,
        rng: random.Random | None = None,
    ) -> None:
        self.node_name = node_name
        self.config = config or RoutingConfig()
        self.view = view
        self._local_backend = local_backend
        self._connect = connect
        self._classify = classify
        self._local_tier_cache: tuple[int, int | None] | None = None  # (view version, tier)
        self.breaker_board = BreakerBoard.from_config(self.config, self._clock)
        self._balancer = Balancer(self.config, self.breaker_board, rng)
        self._remotes: dict[tuple[str, str], Backend] = {}
        self._inflight: dict[str, int] = {}
        self._waiting = 0
        self._load_changed = asyncio.Event()
        self.judge = Judge.from_config(self.config, self._ask_judge, self._clock)

    # ---- Coordinator -------------------------------------------------------------------

    def open(self, request: ChatRequest, options: RouteOptions) -> _Routed:
        """Plan now (so an unknown model fails here, with 404); nodes are tried on iteration."""
        if options.local_only:
            return _Routed(self, request, options, None)
        plan = make_plan(
            request.model,
            options.prefer_tier,
            self.config.fallback_strategy,
            lambda: self._classify(request.messages),
        )
        if plan.model is not None and not any(
            self._balancer.group_size(self.view, g) for g in plan.groups
        ):
            raise ModelNotFoundError(plan.model)
        plan = fitted(plan, request, self.view.candidates())
        return _Routed(self, request, options, plan)

    def decide(self, request: ChatRequest, options: RouteOptions) -> Decision:
        """Where `request` would go now and why, without sending it (`harombe route`)."""
        reasons: list[str] = []
        features: dict[str, Any] = {}

        def classify_explained() -> int:
            found = explain(request.messages)
            reasons.extend(found.reasons)
            features.update(found.features)
            return found.tier

        plan = make_plan(
            request.model, options.prefer_tier, self.config.fallback_strategy, classify_explained
        )
        try:
            plan = fitted(plan, request, self.view.candidates())
        except PromptTooLargeError as exc:
            reasons.append(f"would be refused: {exc}")
        candidate, full = self._pick(plan, set())
        if request.tools and candidate is not None and not calls_tools(candidate, plan.model):
            reasons.append(f"no node that calls tools could take it; {candidate.name} may not")
        candidates = [
            {"group": group.label(), **row}
            for group in plan.groups
            for row in self._balancer.assess(self.view, group, self._inflight, plan.needs)
        ]
        return Decision(
            plan=plan,
            node=candidate.name if candidate else None,
            tier=candidate.tier if candidate else None,
            reasons=reasons,
            all_busy=full,
            features=features,
            candidates=candidates,
        )

    async def models(self) -> list[ClusterModel]:
        """Every model some usable node serves, with the nodes serving and holding it."""
        infos: dict[str, ModelInfo] = {}
        if self._local_backend is not None:
            try:
                infos = {m.name: m for m in await self._local_backend.list_models()}
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

    # ---- internals ---------------------------------------------------------------------

    def _backend_for(self, candidate: Candidate) -> Backend:
        if candidate.is_local:
            if self._local_backend is None:
                raise BackendError(f"{self.node_name} has no local backend", status=503)
            return self._local_backend
        key = (candidate.name, candidate.address)  # a sponsor's address serves several names
        backend = self._remotes.get(key)
        if backend is None:
            backend = self._remotes[key] = self._connect(candidate)
        return backend

    @staticmethod
    def _clock() -> float:
        return asyncio.get_running_loop().time()

    def _ask_judge(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """The judge's question, routed like any tier-0 request."""
        return aiter(self.open(request, RouteOptions()))

    def _local_tier(self) -> int | None:
        version = self.view.version
        if self._local_tier_cache is None or self._local_tier_cache[0] != version:
            tier = next((c.tier for c in self.view.candidates() if c.is_local), None)
            self._local_tier_cache = (version, tier)
        return self._local_tier_cache[1]

    def _pick(self, plan: Plan, tried: set[str]) -> tuple[Candidate | None, bool]:
        """The node to try next, or (None, whether usable nodes exist but are all full)."""
        full = False
        for group in plan.groups:
            choice = self._balancer.choose(self.view, group, tried, self._inflight, plan.needs)
            if choice.candidate is not None:
                return choice.candidate, False
            full = full or choice.full
        return None, full

    async def _wait_for_node(self, plan: Plan, tried: set[str], deadline: float) -> Candidate:
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
        until = min(deadline, self._clock() + cfg.queue_timeout)
        self._waiting += 1
        try:
            while (left := until - self._clock()) > 0:
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

    def _started(self, name: str) -> None:
        self._inflight[name] = self._inflight.get(name, 0) + 1

    def _finished(self, name: str) -> None:
        left = self._inflight[name] - 1
        if left:
            self._inflight[name] = left
        else:
            del self._inflight[name]
        self._load_changed.set()
        self._load_changed = asyncio.Event()


class _Routed:
    """One routed answer (a `RoutedStream`): iterate it once for the chunks."""

    def __init__(
        self, dispatcher: Dispatcher, request: ChatRequest, options: RouteOptions, plan: Plan | None
    ) -> None:
        self._d = dispatcher
        self._request = request
        self._options = options
        self._plan = plan
        self._t0 = 0.0
        self.route = RouteInfo(
            classified_tier=plan.classified_tier if plan else None,
            model=request.model if plan and plan.model else None,
        )

    def __aiter__(self) -> AsyncIterator[ChatChunk]:
        return self._serve_local() if self._plan is None else self._run(self._plan)

    async def _serve_local(self) -> AsyncIterator[ChatChunk]:
        d = self._d
        if d._local_backend is None:
            raise BackendError(f"{d.node_name} has no local backend", status=503)
        request = self._request
        if is_virtual(request.model):
            request = dataclasses.replace(request, model=None)
        self.route.node, self.route.tier = d.node_name, d._local_tier()
        d._started(d.node_name)
        try:
            async for chunk in self._stream(d._local_backend, request, self._deadline()):
                yield chunk
        finally:
            d._finished(d.node_name)

    def _deadline(self) -> float:
        self._t0 = self._d._clock()
        return self._t0 + self._timeout()

    def _timeout(self) -> float:
        return self._options.timeout or self._d.config.request_timeout

    async def _run(self, plan: Plan) -> AsyncIterator[ChatChunk]:
        d, route = self._d, self.route
        deadline = self._deadline()
        if d.judge is not None and plan.classified_tier is not None:
            plan = await d.judge.revise(plan, self._request.messages, d.config.fallback_strategy)
            route.classified_tier = plan.classified_tier
        request = dataclasses.replace(self._request, model=plan.model)
        delivered: list[str] = []
        tried: set[str] = set()
        failed: tuple[str, str] | None = None  # (node, reason) of the last failure
        while True:
            try:
                candidate = await d._wait_for_node(plan, tried, deadline)
            except UnavailableError as exc:
                if failed is None:
                    raise
                raise BackendError(
                    f"every node tried failed (last: {failed[0]}: {failed[1]}); {exc}",
                    status=502,
                    retryable=False,
                ) from exc
            after = sum(map(len, delivered))
            if failed is not None:
                switch = Switch(failed[0], candidate.name, failed[1], after)
                route.fallbacks.append(switch)
                log.info(
                    "answer moves from %s to %s after %d chars: %s",
                    switch.from_node, switch.to_node, after, switch.reason,
                )  # fmt: skip
            tried.add(candidate.name)
            route.node, route.tier = candidate.name, candidate.tier
            attempt = request if not delivered else _continuation(request, "".join(delivered))
            try:
                async for chunk in self._attempt(candidate, attempt, deadline):
                    if chunk.content:
                        delivered.append(chunk.content)
                    yield chunk
                return
            except BackendError as exc:
                if not exc.retryable and not isinstance(exc, ModelNotFoundError):
                    raise
                failed = (candidate.name, str(exc))
                if len(tried) >= d.config.max_attempts:
                    raise BackendError(
                        f"gave up after {len(tried)} nodes; last error from {candidate.name}: "
                        f"{exc}",
                        status=502,
                        retryable=False,
                    ) from exc
                log.warning("node %s failed: %s", candidate.name, exc)

    async def _attempt(
        self, candidate: Candidate, request: ChatRequest, deadline: float
    ) -> AsyncIterator[ChatChunk]:
        """One node's answer; the breaker hears the verdict: done (success), a node-side
        failure, or nothing (a bad request, the deadline, the client gone)."""
        d = self._d
        breaker = d.breaker_board.get(candidate.name)
        breaker.on_start()
        d._started(candidate.name)
        verdict: bool | None = None
        try:
            async for chunk in self._stream(d._backend_for(candidate), request, deadline):
                if chunk.done:
                    verdict = True
                yield chunk
        except BackendError as exc:
            if exc.retryable:
                verdict = False
            raise
        finally:
            d._finished(candidate.name)
            if verdict is True:
                breaker.on_success()
            elif verdict is False:
                breaker.on_failure()
            else:
                breaker.on_abandon()

    async def _stream(
        self, backend: Backend, request: ChatRequest, deadline: float
    ) -> AsyncIterator[ChatChunk]:
        """`backend`'s chunks up to the done one, within the time limits; BackendError (retryable)
        when a limit other than the deadline runs out or the stream ends early."""
        d, route, cfg = self._d, self.route, self._d.config
        chunks = aiter(backend.chat(request))
        first = True
        try:
            while True:
                limit = cfg.first_token_timeout if first else cfg.chunk_timeout
                when = min(deadline, d._clock() + limit)
                try:
                    async with asyncio.timeout_at(when):
                        chunk = await anext(chunks)
                except StopAsyncIteration:
                    raise BackendError("the answer ended before it was done") from None
                except TimeoutError:
                    if when >= deadline:
                        raise DeadlineError(self._timeout()) from None
                    what = "no first token" if first else "no progress"
                    raise BackendError(f"{what} within {limit:g}s") from None
                if first:
                    first = False
                    if route.first_token_s is None:
                        route.first_token_s = d._clock() - self._t0
                if chunk.model:
                    route.model = chunk.model
                if chunk.done:
                    route.total_s = d._clock() - self._t0
                yield chunk
                if chunk.done:
                    return
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()


def _continuation(request: ChatRequest, partial: str) -> ChatRequest:
    """The request that asks the next node to continue `partial` (see the module docstring)."""
    messages = [*request.messages, Message(role="assistant", content=partial)]
    return dataclasses.replace(request, messages=messages)


def _describe(plan: Plan) -> str:
    if plan.model is not None:
        return f"model {plan.model!r}"
    tiers = ", ".join(str(g.tier) for g in plan.groups)
    return f"tier {plan.wanted_tier} (trying tiers {tiers})"

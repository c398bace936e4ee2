"""`RoutedAnswer`: one answer's life on the nodes a `Plan` names (see `dispatch` for the whole).

It uses only the Dispatcher's public face (`Nodes`): the next usable node, the backend for a
node, a slot counted against that node while it answers, the time, the limits. A node the
membership declares dead ends its slot at once (`Slot.lose`): the attempt fails over and the
answer continues elsewhere instead of waiting out `chunk_timeout`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, aclosing
from typing import Protocol

from harombe.inference.types import (
    Backend,
    BackendError,
    ChatChunk,
    ChatRequest,
    Message,
    ModelNotFoundError,
)
from harombe.routing.breaker import Breaker, BreakerBoard
from harombe.routing.judge import Judge
from harombe.routing.policy import Plan, is_virtual
from harombe.routing.route import RouteInfo, RouteOptions, Switch, UnavailableError
from harombe.routing.view import Candidate
from harombe.settings.routing import RoutingConfig

log = logging.getLogger(__name__)


class DeadlineError(BackendError):
    def __init__(self, timeout: float) -> None:
        message = f"no complete answer within the {timeout:g}s deadline"
        super().__init__(message, status=504, retryable=False)


class Watchdog:
    """Ends a wait for the next chunk that outlives its limit, by cancelling the waiting task.

    `asyncio.timeout` would schedule and cancel a timer for every chunk; here starting a wait
    costs a comparison, and the one timer is re-armed only when it fires (at most once per
    limit) or when a wait must end sooner than it. Only a wait in progress is ever cancelled.
    """

    def __init__(self, task: asyncio.Task[object] | None) -> None:
        self._loop = asyncio.get_running_loop()
        self._owner = task  # the task that waits (a stream is read by one task)
        self._task: asyncio.Task[object] | None = None
        self._handle: asyncio.Handle | None = None
        self._handle_at = 0.0  # its deadline: uvloop's handle for a past one has no when()
        self._until = 0.0
        self._cancelling = 0
        self._fired = False

    def start(self, until: float) -> None:
        """A wait begins that must end by `until` (loop time)."""
        self._until = until
        self._task = task = self._owner
        self._cancelling = task.cancelling() if task else 0
        if self._handle is None or self._handle_at > until:
            if self._handle is not None:
                self._handle.cancel()
            self._handle = self._loop.call_at(until, self._check)
            self._handle_at = until

    def stop(self) -> None:
        self._task = None

    def owns(self, task: asyncio.Task[object] | None) -> bool:
        """Whether the CancelledError `task` got is this watchdog's doing (then it is undone)."""
        if not self._fired or task is None:
            return False
        self._fired = False
        return task.uncancel() <= self._cancelling

    def fire(self) -> None:
        if self._task is not None and not self._fired:
            self._fired = True
            self._task.cancel()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _check(self) -> None:
        self._handle = None
        if self._task is None:
            return  # no wait in progress: the next `start` arms it again
        if self._loop.time() < self._until:
            self._handle = self._loop.call_at(self._until, self._check)
            self._handle_at = self._until
        else:
            self.fire()


class Slot:
    """One node answering one request: counted while open; `lose` ends the wait for its next
    chunk at once (the node was declared dead)."""

    def __init__(self, node: str) -> None:
        self.node = node
        self.lost: str | None = None
        self.watchdog: Watchdog | None = None

    def lose(self, reason: str) -> None:
        self.lost = reason
        if self.watchdog is not None:
            self.watchdog.fire()


class Nodes(Protocol):
    """What a routed answer needs of the Dispatcher."""

    node_name: str
    config: RoutingConfig
    breaker_board: BreakerBoard
    judge: Judge | None

    def now(self) -> float: ...

    def local_backend(self) -> Backend: ...

    def local_tier(self) -> int | None: ...

    def backend_for(self, candidate: Candidate) -> Backend: ...

    async def next_node(self, plan: Plan, tried: set[str], deadline: float) -> Candidate: ...

    def slot(self, node: str) -> AbstractContextManager[Slot]: ...


class RoutedAnswer:
    """One routed answer (a `RoutedStream`): iterate it once for the chunks. `plan` None: serve
    with the local backend only (a request forwarded by a peer)."""

    def __init__(
        self, nodes: Nodes, request: ChatRequest, options: RouteOptions, plan: Plan | None
    ) -> None:
        self._nodes = nodes
        self._request = request
        self._options = options
        self._plan = plan
        self._t0 = 0.0
        self.route = RouteInfo(
            classified_tier=plan.classified_tier if plan else None,
            model=request.model if plan and plan.model else None,
        )

    def __aiter__(self) -> AsyncIterator[ChatChunk]:
        return self._stream(self._request, None) if self._plan is None else self._run(self._plan)

    def _deadline(self) -> float:
        self._t0 = self._nodes.now()
        return self._t0 + self._timeout()

    def _timeout(self) -> float:
        return self._options.timeout or self._nodes.config.request_timeout

    async def _run(self, plan: Plan) -> AsyncIterator[ChatChunk]:
        nodes, route = self._nodes, self.route
        deadline = self._deadline()
        if nodes.judge is not None and plan.classified_tier is not None:
            strategy = nodes.config.fallback_strategy
            plan = await nodes.judge.revise(plan, self._request.messages, strategy)
            route.classified_tier = plan.classified_tier
        request = self._request
        if request.model != plan.model:
            request = dataclasses.replace(request, model=plan.model)
        delivered: list[str] = []
        tried: set[str] = set()
        failed: tuple[str, str] | None = None  # (node, reason) of the last failure
        while True:
            try:
                candidate = await nodes.next_node(plan, tried, deadline)
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
                # Closed here, not left to the garbage collector: its slot is freed at once.
                async with aclosing(self._stream(attempt, candidate, deadline)) as chunks:
                    async for chunk in chunks:
                        if chunk.content:
                            delivered.append(chunk.content)
                        yield chunk
                return
            except BackendError as exc:
                if not exc.retryable and not isinstance(exc, ModelNotFoundError):
                    raise
                failed = (candidate.name, str(exc))
                if len(tried) >= nodes.config.max_attempts:
                    raise BackendError(
                        f"gave up after {len(tried)} nodes; last error from {candidate.name}: "
                        f"{exc}",
                        status=502,
                        retryable=False,
                    ) from exc
                log.warning("node %s failed: %s", candidate.name, exc)

    async def _stream(
        self, request: ChatRequest, candidate: Candidate | None, deadline: float = 0.0
    ) -> AsyncIterator[ChatChunk]:
        """One node's answer, its chunks up to the done one, within the time limits; BackendError
        (retryable) when a limit other than the deadline runs out, the node is lost or the
        stream ends early. The node's breaker hears the verdict: done (success), a node-side
        failure, or nothing (a bad request, the deadline, the client gone). `candidate` None:
        the local backend, unplanned (a request forwarded by a peer), no breaker."""
        nodes, route, cfg = self._nodes, self.route, self._nodes.config
        breaker: Breaker | None = None
        if candidate is None:
            if is_virtual(request.model):
                request = dataclasses.replace(request, model=None)
            node = route.node = nodes.node_name
            route.tier = nodes.local_tier()
            deadline = self._deadline()
        else:
            node = candidate.name
            breaker = nodes.breaker_board.get(node)
            breaker.on_start()
        heard = breaker is None  # whether the breaker has had its verdict
        try:
            with nodes.slot(node) as slot:
                backend = (
                    nodes.local_backend() if candidate is None else nodes.backend_for(candidate)
                )
                chunks = aiter(backend.chat(request))
                watchdog = slot.watchdog = Watchdog(asyncio.current_task())
                first = True
                try:
                    while True:
                        limit = cfg.first_token_timeout if first else cfg.chunk_timeout
                        when = min(deadline, nodes.now() + limit)
                        if slot.lost is not None:
                            raise BackendError(f"{slot.node} {slot.lost}")
                        watchdog.start(when)
                        try:
                            chunk = await anext(chunks)
                        except StopAsyncIteration:
                            raise BackendError("the answer ended before it was done") from None
                        except asyncio.CancelledError:
                            if not watchdog.owns(asyncio.current_task()):
                                raise
                            if slot.lost is not None:
                                raise BackendError(f"{slot.node} {slot.lost}") from None
                            if when >= deadline:
                                raise DeadlineError(self._timeout()) from None
                            what = "no first token" if first else "no progress"
                            raise BackendError(f"{what} within {limit:g}s") from None
                        finally:
                            watchdog.stop()
                        if first:
                            first = False
                            if route.first_token_s is None:
                                route.first_token_s = nodes.now() - self._t0
                        if chunk.model:
                            route.model = chunk.model
                        if chunk.done:
                            route.total_s = nodes.now() - self._t0
                            if breaker is not None and not heard:  # before the client sees it
                                heard = True
                                breaker.on_success()
                            yield chunk
                            return
                        yield chunk
                finally:
                    watchdog.close()
                    slot.watchdog = None
                    aclose = getattr(chunks, "aclose", None)
                    if aclose is not None:
                        await aclose()
        except BackendError as exc:
            if breaker is not None and exc.retryable and not heard:
                heard = True
                breaker.on_failure()
            raise
        finally:
            if breaker is not None and not heard:
                breaker.on_abandon()


def _continuation(request: ChatRequest, partial: str) -> ChatRequest:
    """The request that asks the next node to continue `partial` (see `dispatch`)."""
    messages = [*request.messages, Message(role="assistant", content=partial)]
    return dataclasses.replace(request, messages=messages)

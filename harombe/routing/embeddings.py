"""Embeddings routed over the cluster: to a node serving the named model, the next one when a
node fails; no tier, no stream, no continuation (a failed node's work is simply redone)."""

from __future__ import annotations

import asyncio
import logging

from harombe.inference.types import BackendError, EmbedRequest
from harombe.routing.policy import Plan
from harombe.routing.route import Embedded, RouteInfo, UnavailableError
from harombe.routing.routed import DeadlineError, Nodes
from harombe.routing.view import Candidate

log = logging.getLogger(__name__)


async def route_embedding(
    nodes: Nodes, request: EmbedRequest, plan: Plan | None, limit: float
) -> Embedded:
    """Within `limit` seconds. `plan` None: this node's backend only (a request forwarded by
    a peer); otherwise the nodes of `plan`, at most `max_attempts` of them."""
    deadline = nodes.now() + limit
    if plan is None:
        local = Candidate(nodes.node_name, "", tier=nodes.local_tier() or 0, is_local=True)
        return await _embed_on(nodes, local, request, deadline, limit)
    tried: set[str] = set()
    failed: str | None = None  # the last node failure, for the error when none is left
    while True:
        try:
            candidate = await nodes.next_node(plan, tried, deadline)
        except UnavailableError as exc:
            if failed is None:
                raise
            message = f"every node tried failed (last: {failed}); {exc}"
            raise BackendError(message, status=502, retryable=False) from exc
        tried.add(candidate.name)
        try:
            return await _embed_on(nodes, candidate, request, deadline, limit)
        except BackendError as exc:
            if not exc.retryable or len(tried) >= nodes.config.max_attempts:
                raise
            failed = f"{candidate.name}: {exc}"
            log.warning("node %s failed to embed: %s", candidate.name, exc)


async def _embed_on(
    nodes: Nodes, candidate: Candidate, request: EmbedRequest, deadline: float, limit: float
) -> Embedded:
    breaker = nodes.breaker_board.get(candidate.name)
    breaker.on_start()
    verdict: bool | None = None
    started = nodes.now()
    try:
        with nodes.slot(candidate.name):
            async with asyncio.timeout_at(deadline):
                result = await nodes.backend_for(candidate).embed(request)
        verdict = True
    except TimeoutError:
        raise DeadlineError(limit) from None
    except BackendError as exc:
        verdict = False if exc.retryable else None
        raise
    finally:
        if verdict is True:
            breaker.on_success()
        elif verdict is False:
            breaker.on_failure()
        else:
            breaker.on_abandon()
    route = RouteInfo(node=candidate.name, tier=candidate.tier, model=result.model)
    route.total_s = nodes.now() - started
    return Embedded(result, route)

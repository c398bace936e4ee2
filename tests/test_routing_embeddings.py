"""Embeddings routed over a static view (routing/embeddings.py): a node that fails is replaced
by the next one serving the model; a client error is not retried; the local-only path."""

from __future__ import annotations

import pytest
from support.api_harness import ScriptedBackend

from harombe.inference.types import BackendError, EmbedRequest, EmbedResult
from harombe.routing.dispatch import Dispatcher
from harombe.routing.route import RouteOptions
from harombe.routing.view import Candidate, StaticView
from harombe.settings.routing import RoutingConfig

MODEL = "embedder"


class EmbeddingNode(ScriptedBackend):
    """Embeds each input as [index]; or fails with `error` (counting its calls)."""

    def __init__(self, error: BackendError | None = None) -> None:
        super().__init__()
        self.error = error
        self.calls = 0

    async def embed(self, request: EmbedRequest) -> EmbedResult:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return EmbedResult([[float(i)] for i in range(len(request.inputs))], model=request.model)


def dispatcher(nodes: dict[str, EmbeddingNode], local: str | None = None) -> Dispatcher:
    view = StaticView(
        Candidate(name, f"10.0.0.{i}:1", models=[MODEL], loaded=[MODEL], is_local=name == local)
        for i, name in enumerate(nodes)
    )
    return Dispatcher(
        node_name=local or "router",
        local_backend=nodes[local] if local else None,
        view=view,
        connect=lambda c: nodes[c.name],
        config=RoutingConfig(breaker_failure_threshold=1_000),
    )


async def test_a_failed_node_is_replaced_by_the_next_one_serving_the_model() -> None:
    # The local node is preferred on a tie, so the broken one is tried first.
    nodes = {"here": EmbeddingNode(BackendError("out of memory", status=502)), "b": EmbeddingNode()}
    request = EmbedRequest(["x", "y"], MODEL)
    embedded = await dispatcher(nodes, local="here").embed(request, RouteOptions())
    assert embedded.result.embeddings == [[0.0], [1.0]]
    assert embedded.route.node == "b"
    assert (nodes["here"].calls, nodes["b"].calls) == (1, 1)


async def test_when_every_node_fails_the_error_names_the_last_failure() -> None:
    error = BackendError("connection refused", status=502)
    nodes = {"a": EmbeddingNode(error), "b": EmbeddingNode(error)}
    with pytest.raises(BackendError, match="every node tried failed") as raised:
        await dispatcher(nodes).embed(EmbedRequest(["x"], MODEL), RouteOptions())
    assert raised.value.status == 502


async def test_a_client_error_is_not_retried_elsewhere() -> None:
    bad = BackendError("dimensions too large", status=400, retryable=False)
    nodes = {"a": EmbeddingNode(bad), "b": EmbeddingNode(bad)}
    with pytest.raises(BackendError, match="dimensions too large"):
        await dispatcher(nodes).embed(EmbedRequest(["x"], MODEL), RouteOptions())
    assert nodes["a"].calls + nodes["b"].calls == 1


async def test_a_forwarded_request_is_embedded_here_only() -> None:
    nodes = {"here": EmbeddingNode(), "there": EmbeddingNode()}
    options = RouteOptions(local_only=True)
    embedded = await dispatcher(nodes, local="here").embed(EmbedRequest(["x"], MODEL), options)
    assert embedded.route.node == "here"
    assert (nodes["here"].calls, nodes["there"].calls) == (1, 0)

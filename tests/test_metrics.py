"""/metrics through prometheus_client: request metrics, exact values, one registry per peer."""

from __future__ import annotations

from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from harombe.api.metrics import LiveParts, make_registry
from harombe.stats.requests import FinishedRequest


def finished(**fields) -> FinishedRequest:
    base = dict(
        at=0.0,
        api="ollama",
        outcome="ok",
        node="a",
        tier=0,
        classified_tier=0,
        model="m",
        fallbacks=(),
        ttft_s=0.2,
        duration_s=1.5,
        tokens_in=10,
        tokens_out=20,
    )
    return FinishedRequest(**(base | fields))


def parse(registry) -> dict[tuple[str, frozenset], float]:
    text = generate_latest(registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_request_metrics_count_by_node_tier_model_api_outcome():
    registry, metrics = make_registry(LiveParts())
    metrics.finished(finished())
    metrics.finished(finished(fallbacks=("first_token_timeout",), node="b", tier=1))
    metrics.finished(
        finished(outcome="client_error", node=None, tier=None, model=None, ttft_s=None,
                 classified_tier=None, tokens_in=0, tokens_out=0)
    )  # fmt: skip
    m = parse(registry)
    labels = {"node": "a", "tier": "0", "model": "m", "api": "ollama", "outcome": "ok"}
    assert m[("harombe_requests_total", frozenset(labels.items()))] == 1
    none = {"node": "none", "tier": "none", "model": "none", "api": "ollama"}
    assert m[("harombe_requests_total", frozenset((none | {"outcome": "client_error"}).items()))]
    assert m[("harombe_fallbacks_total", frozenset({("reason", "first_token_timeout")}))] == 1
    assert m[("harombe_classifications_total", frozenset({("tier", "0")}))] == 2
    count = frozenset({("api", "ollama"), ("tier", "0")})
    assert m[("harombe_request_duration_seconds_count", count)] == 1
    assert m[("harombe_request_duration_seconds_sum", count)] == 1.5
    assert m[("harombe_request_ttft_seconds_count", count)] == 1
    tokens = frozenset({("node", "a"), ("model", "m"), ("direction", "out")})
    assert m[("harombe_tokens_total", tokens)] == 20


def test_large_counts_keep_every_digit():
    registry, metrics = make_registry(LiveParts())
    metrics.finished(finished(tokens_out=123_456_789))
    tokens = frozenset({("node", "a"), ("model", "m"), ("direction", "out")})
    assert parse(registry)[("harombe_tokens_total", tokens)] == 123_456_789


def test_each_peer_has_its_own_registry():
    first, a = make_registry(LiveParts())
    second, _ = make_registry(LiveParts())
    a.finished(finished())
    assert sum(v for (n, _), v in parse(first).items() if n == "harombe_requests_total") == 1
    assert not [k for k in parse(second) if k[0] == "harombe_requests_total"]

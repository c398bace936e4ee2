"""`GET /metrics`: Prometheus exposition through `prometheus_client`, one registry per peer.

Two kinds of metric (every one is listed in docs/monitoring.md):
- `RequestMetrics`: counters and histograms updated as requests this peer coordinated finish
  (it is a `RequestObserver`);
- `LiveCollector`: read at scrape time from the parts that keep the numbers — membership and
  transport counters, the gossip view (each node's load, capacity, tokens/s, utilisation),
  the dispatcher's breakers and queue, the local backend's measured speed.

Label values come from the cluster (node and model names, a closed set of reasons), never from
what a client sent, so a stranger cannot grow the number of series.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from harombe.api.guard import ConnectionGuard
from harombe.api.peer_auth import RequestVerifier
from harombe.cluster.membership import Membership
from harombe.cluster.ws_transport import WebSocketTransport
from harombe.inference.stats import MeasuredBackend
from harombe.routing.dispatch import Dispatcher
from harombe.stats.requests import FinishedRequest

REQUEST_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)
"""Histogram buckets (seconds) for request duration and time to first token."""

REGISTRY_KEY: web.AppKey[CollectorRegistry] = web.AppKey("harombe_metrics_registry")
BREAKER_STATES = ("closed", "open", "half_open")
MEMBER_STATES = ("alive", "suspect", "dead", "left")
MIB = 1024**2


def _label(value: object) -> str:
    return "none" if value is None else str(value)


class _Series:
    """`metric.labels(*values)`, each series looked up once: `labels()` on every request cost
    more than the rest of a finished request's bookkeeping."""

    def __init__(self, metric: Any) -> None:
        self._metric = metric
        self._bound: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        series = self._bound.get(values)
        if series is None:
            series = self._bound[values] = self._metric.labels(*values)
        return series


class RequestMetrics:
    """What this peer coordinated, by serving node, tier, model, API and outcome."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "harombe_requests",
            "Requests this peer coordinated, by serving node, tier, model, API and outcome.",
            ["node", "tier", "model", "api", "outcome"],
            registry=registry,
        )
        self.duration = Histogram(
            "harombe_request_duration_seconds",
            "Time from a request's arrival to its answer's end, by API and serving tier.",
            ["api", "tier"],
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        self.ttft = Histogram(
            "harombe_request_ttft_seconds",
            "Time from a request's arrival to its answer's first chunk, by API and serving tier.",
            ["api", "tier"],
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        self.tokens = Counter(
            "harombe_tokens",
            "Tokens of finished answers: the prompt (direction=in) and the answer (out).",
            ["node", "model", "direction"],
            registry=registry,
        )
        self.fallbacks = Counter(
            "harombe_fallbacks",
            "Times an answer moved to another node, by reason.",
            ["reason"],
            registry=registry,
        )
        self.classifications = Counter(
            "harombe_classifications",
            "Requests the classifier judged, by the tier it chose.",
            ["tier"],
            registry=registry,
        )

        self._requests = _Series(self.requests)
        self._duration = _Series(self.duration)
        self._ttft = _Series(self.ttft)
        self._tokens = _Series(self.tokens)

    def finished(self, r: FinishedRequest) -> None:
        node, tier, model = _label(r.node), _label(r.tier), _label(r.model)
        self._requests(node, tier, model, r.api, r.outcome).inc()
        self._duration(r.api, tier).observe(r.duration_s)
        if r.ttft_s is not None:
            self._ttft(r.api, tier).observe(r.ttft_s)
        if r.tokens_in:
            self._tokens(node, model, "in").inc(r.tokens_in)
        if r.tokens_out:
            self._tokens(node, model, "out").inc(r.tokens_out)
        for reason in r.fallbacks:
            self.fallbacks.labels(reason).inc()
        if r.classified_tier is not None:
            self.classifications.labels(str(r.classified_tier)).inc()


@dataclass
class LiveParts:
    """The parts of a peer its live metrics are read from; any may be missing."""

    membership: Membership | None = None
    transport: WebSocketTransport | None = None
    verifier: RequestVerifier | None = None
    dispatcher: Dispatcher | None = None
    backend: MeasuredBackend | None = None
    guard: ConnectionGuard | None = None


class LiveCollector(Collector):
    """Reads the live parts at each scrape (see the module docstring)."""

    def __init__(self, parts: LiveParts) -> None:
        self._parts = parts

    def collect(self) -> Iterator[Metric]:
        parts = self._parts
        if parts.membership is not None:
            yield from _membership(parts.membership)
            yield from _gossip_view(parts.membership)
        yield from _edge(parts)
        yield from _dispatch(parts.dispatcher)
        yield from _backend(parts.backend)


def _edge(parts: LiveParts) -> Iterator[Metric]:
    """The peer websocket, forwarded-request signatures, HTTP connections."""
    if parts.transport is not None:
        tstats = parts.transport.stats
        yield _counter(
            "harombe_transport_connects", "Peer websocket connections opened.", tstats.connects
        )
        yield _counter(
            "harombe_transport_connect_failures",
            "Failed peer connection attempts.",
            tstats.connect_failures,
        )
        yield _by_label(
            CounterMetricFamily,
            "harombe_transport_dropped_frames",
            "Frames the transport dropped, by reason.",
            "reason",
            tstats.dropped,
        )
    yield _by_label(
        CounterMetricFamily,
        "harombe_peer_auth_rejected",
        "Forwarded requests rejected, by problem.",
        "problem",
        parts.verifier.rejected if parts.verifier else {},
    )
    if parts.guard is not None:
        gstats = parts.guard.stats
        yield GaugeMetricFamily(
            "harombe_http_connections",
            "Client and peer HTTP connections open now.",
            gstats.open,
        )
        yield _by_label(
            CounterMetricFamily,
            "harombe_http_connection_events",
            "Connections the edge closed or refused, by event (evicted, refused, header_timeout).",
            "event",
            gstats.events,
        )


def _dispatch(dispatcher: Dispatcher | None) -> Iterator[Metric]:
    if dispatcher is not None:
        load = dispatcher.load()
        yield GaugeMetricFamily(
            "harombe_requests_active", "Answers this node's backend is producing now.", load[0]
        )
        yield GaugeMetricFamily(
            "harombe_requests_queued", "Requests waiting here for a free node.", load[1]
        )
    breakers = GaugeMetricFamily(
        "harombe_breaker_state",
        "Circuit breaker of each node this peer has sent work to: 1 for its current state.",
        labels=["node", "state"],
    )
    states = dispatcher.breakers() if dispatcher else {}
    for node, state in sorted(states.items()):
        for s in BREAKER_STATES:
            breakers.add_metric([node, s], float(s == state))
    yield breakers


def _backend(backend: MeasuredBackend | None) -> Iterator[Metric]:
    ttft, tps = backend.stats.snapshot() if backend else ({}, {})
    yield _by_label(
        GaugeMetricFamily,
        "harombe_backend_ttft_seconds",
        "Local backend's time to first token (EWMA), by model.",
        "model",
        ttft,
    )
    yield _by_label(
        GaugeMetricFamily,
        "harombe_backend_tokens_per_second",
        "Local backend's decode speed (EWMA), by model.",
        "model",
        tps,
    )


def _counter(name: str, help_text: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, help_text, value=value)


def _by_label(
    kind: type[GaugeMetricFamily] | type[CounterMetricFamily],
    name: str,
    help_text: str,
    label: str,
    values: dict[Any, float] | collections.Counter[Any],
) -> Metric:
    family = kind(name, help_text, labels=[label])
    for key, value in sorted(values.items(), key=lambda kv: str(kv[0])):
        family.add_metric([str(key)], value)
    return family


def _membership(membership: Membership) -> Iterator[Metric]:
    stats = membership.stats
    for field_name, help_text in (
        ("frames_sent", "Membership frames sent."),
        ("frames_received", "Membership frames received."),
        ("bytes_sent", "Membership (gossip) bytes sent."),
        ("bytes_received", "Membership (gossip) bytes received."),
        ("probes", "Direct probes started."),
        ("probe_failures", "Probes that got no ack in time."),
        ("refutes", "Suspicions of this node it refuted."),
    ):
        yield _counter(f"harombe_membership_{field_name}", help_text, getattr(stats, field_name))
    yield _by_label(
        CounterMetricFamily,
        "harombe_membership_dropped_frames",
        "Membership frames dropped, by reason.",
        "reason",
        stats.dropped,
    )
    states = collections.Counter(m.state.label for m in membership.members())
    members = GaugeMetricFamily(
        "harombe_members", "Members in this node's view, by state.", labels=["state"]
    )
    for state in MEMBER_STATES:
        members.add_metric([state], states.get(state, 0))
    yield members


def _gossip_view(membership: Membership) -> Iterator[Metric]:
    """Each live node's record as this peer last heard it. Unknown values are left out."""
    g = {
        name: GaugeMetricFamily(name, help_text, labels=labels)
        for name, help_text, labels in (
            ("harombe_node_active_requests", "Answers the node is producing.", ["node"]),
            ("harombe_node_queued_requests", "Requests waiting at the node.", ["node"]),
            ("harombe_node_capacity", "Concurrent requests the node serves well.", ["node"]),
            ("harombe_node_tier", "The node's tier (0, 1, 2).", ["node"]),
            (
                "harombe_node_tokens_per_second",
                "Measured decode speed, by model.",
                ["node", "model"],
            ),
            ("harombe_node_cpu_utilization_ratio", "CPU busy share (0-1).", ["node"]),
            ("harombe_node_memory_used_bytes", "RAM in use.", ["node"]),
            ("harombe_node_memory_total_bytes", "RAM installed.", ["node"]),
            (
                "harombe_node_gpu_utilization_ratio",
                "GPU busy share (0-1), by GPU index.",
                ["node", "gpu"],
            ),
            ("harombe_node_gpu_memory_used_bytes", "VRAM in use, by GPU index.", ["node", "gpu"]),
            (
                "harombe_node_gpu_memory_total_bytes",
                "VRAM installed, by GPU index.",
                ["node", "gpu"],
            ),
        )
    }
    for m in membership.members():
        rec = m.record
        if rec is None or m.state.label not in ("alive", "suspect"):
            continue
        node = [m.name]
        g["harombe_node_active_requests"].add_metric(node, rec.active)
        g["harombe_node_queued_requests"].add_metric(node, rec.queue)
        g["harombe_node_capacity"].add_metric(node, rec.capacity)
        g["harombe_node_tier"].add_metric(node, rec.tier)
        for model, value in sorted(rec.tps.items()):
            g["harombe_node_tokens_per_second"].add_metric([m.name, model], value)
        u = rec.utilisation
        if u is None:
            continue
        _maybe(g["harombe_node_cpu_utilization_ratio"], node, u.cpu_pct, 0.01)
        _maybe(g["harombe_node_memory_used_bytes"], node, u.ram_used_mib, MIB)
        _maybe(g["harombe_node_memory_total_bytes"], node, u.ram_total_mib, MIB)
        for i, gpu in enumerate(u.gpus):
            labels = [m.name, str(i)]
            _maybe(g["harombe_node_gpu_utilization_ratio"], labels, gpu.util_pct, 0.01)
            _maybe(g["harombe_node_gpu_memory_used_bytes"], labels, gpu.vram_used_mib, MIB)
            _maybe(g["harombe_node_gpu_memory_total_bytes"], labels, gpu.vram_total_mib, MIB)
    yield from g.values()


def _maybe(family: GaugeMetricFamily, labels: list[str], value: int | None, scale: float) -> None:
    if value is not None:
        family.add_metric(labels, value * scale)


def make_registry(parts: LiveParts) -> tuple[CollectorRegistry, RequestMetrics]:
    """A registry of its own (never prometheus_client's global one: tests run several peers
    in one process) with the live collector and the request metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LiveCollector(parts))
    return registry, RequestMetrics(registry)


async def handle_metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[REGISTRY_KEY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_metrics_route(app: web.Application, registry: CollectorRegistry) -> None:
    app[REGISTRY_KEY] = registry
    app.router.add_get("/metrics", handle_metrics)

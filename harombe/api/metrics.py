"""`GET /metrics`: Prometheus text exposition of what a peer counts.

The route takes a collector returning `Sample`s, so the HTTP layer knows nothing of where the
numbers come from (membership, transport, dispatch, backend: see `Node.metrics`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from aiohttp import web


@dataclass(frozen=True)
class Sample:
    name: str
    value: float
    help: str
    kind: str = "gauge"  # "gauge" | "counter"
    labels: dict[str, str] = field(default_factory=dict)


Collector = Callable[[], Iterable[Sample]]
COLLECTOR_KEY: web.AppKey[Collector] = web.AppKey("harombe_metrics_collector")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(samples: Iterable[Sample]) -> str:
    """Group samples by metric name; one HELP/TYPE header per metric."""
    by_name: dict[str, list[Sample]] = {}
    for sample in samples:
        by_name.setdefault(sample.name, []).append(sample)
    lines: list[str] = []
    for name, group in by_name.items():
        lines.append(f"# HELP {name} {group[0].help}")
        lines.append(f"# TYPE {name} {group[0].kind}")
        for s in group:
            labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(s.labels.items()))
            lines.append(f"{name}{{{labels}}} {s.value:g}" if labels else f"{name} {s.value:g}")
    return "\n".join(lines) + "\n"


async def handle_metrics(request: web.Request) -> web.Response:
    body = render(request.app[COLLECTOR_KEY]())
    return web.Response(text=body, content_type="text/plain", charset="utf-8")


def add_metrics_route(app: web.Application, collector: Collector) -> None:
    app[COLLECTOR_KEY] = collector
    app.router.add_get("/metrics", handle_metrics)

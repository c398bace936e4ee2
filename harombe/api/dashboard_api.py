"""`GET /dashboard`: a web page of the cluster, served by every peer from the package's
`dashboard/` assets (no CDN: it works offline), fed by `GET /dashboard/events`.

The event stream is Server-Sent Events: one JSON snapshot (this peer's view of every node,
its request statistics and recent requests) at once, then again whenever a request finishes
here, and at least every `monitoring.live_interval` seconds, which bounds how late a change
in the gossip view (a node dying) shows. At most `monitoring.max_live_clients` streams at
once. The page reads the stream with `fetch`, so an API key travels in the Authorization
header like any client's; whatever guards the other routes guards these (see
docs/monitoring.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from importlib import resources
from typing import Any

from aiohttp import web

from harombe.api.stats_api import local_stats
from harombe.stats.requests import FinishedRequest, RequestLog

ASSETS = {
    "index.html": "text/html",
    "dashboard.js": "text/javascript",
    "dashboard.css": "text/css",
}
PAGE_PATHS = ("/dashboard", *(f"/dashboard/{name}" for name in ASSETS))
"""The page and its assets: no data in them (an API key middleware may leave them open)."""
RECENT_SHOWN = 50
"""Recent requests sent to the page with each snapshot."""

Status = Callable[[], list[dict[str, Any]]]


class LiveFeed:
    """Wakes every event stream when something worth showing happened."""

    def __init__(self, log: RequestLog, *, interval: float, max_clients: int) -> None:
        self.interval = interval
        self.max_clients = max_clients
        self._waiters: set[asyncio.Event] = set()
        self.closed = False
        log.listeners.append(self._on_request)

    def _on_request(self, _: FinishedRequest) -> None:
        self.poke()

    def poke(self) -> None:
        for event in self._waiters:
            event.set()

    async def close(self, _: web.Application | None = None) -> None:
        """End every stream (the server is shutting down: it would wait for them)."""
        self.closed = True
        self.poke()

    @contextlib.contextmanager
    def subscribe(self) -> Any:
        """An event set on each change; None when `max_clients` are subscribed already."""
        if len(self._waiters) >= self.max_clients:
            yield None
            return
        event = asyncio.Event()
        self._waiters.add(event)
        try:
            yield event
        finally:
            self._waiters.discard(event)


def _asset(name: str) -> bytes:
    return resources.files("harombe.api").joinpath("dashboard", name).read_bytes()


def add_dashboard_routes(
    app: web.Application, *, log: RequestLog, node_name: str, status: Status, feed: LiveFeed
) -> None:
    assets = {name: _asset(name) for name in ASSETS}

    async def page(request: web.Request) -> web.Response:
        name = request.match_info.get("asset", "index.html")
        if name not in assets:
            raise web.HTTPNotFound()
        return web.Response(
            body=assets[name],
            content_type=ASSETS[name],
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )

    def snapshot() -> bytes:
        data = {
            "node": node_name,
            "nodes": status(),
            "stats": local_stats(log, node_name, RECENT_SHOWN),
        }
        return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"

    async def events(request: web.Request) -> web.StreamResponse:
        with feed.subscribe() as changed:
            if changed is None:
                raise web.HTTPServiceUnavailable(
                    text=f"at most {feed.max_clients} dashboard streams at once"
                )
            response = web.StreamResponse(
                headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
            )
            await response.prepare(request)
            try:
                while not feed.closed:
                    changed.clear()
                    await response.write(snapshot())
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(feed.interval):
                            await changed.wait()
            except ConnectionResetError:
                pass
            return response

    app.on_shutdown.append(feed.close)
    app.router.add_get("/dashboard", page)
    app.router.add_get("/dashboard/events", events)
    app.router.add_get("/dashboard/{asset}", page)

"""Helpers for the agent tests: a SearXNG stand-in, a small web site, and an agent client.

`FakeSearxng` answers `GET /search?q=...&format=json` in SearXNG's JSON format (the fields a
SearXNG instance returns: query, number_of_results, results[{url, title, content, engine,
score, category}], answers, corrections, infoboxes, suggestions, unresponsive_engines).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp import web


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Serve `app` on 127.0.0.1 (any port); yields its base URL."""
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def searxng_app(results: list[dict[str, str]], queries: list[str]) -> web.Application:
    async def search(request: web.Request) -> web.Response:
        if request.query.get("format") != "json":
            return web.Response(status=403, text="format not allowed")
        queries.append(request.query.get("q", ""))
        return web.json_response(
            {
                "query": request.query.get("q", ""),
                "number_of_results": len(results),
                "results": [
                    {
                        **r,
                        "engine": "arxiv",
                        "engines": ["arxiv"],
                        "score": 1.0,
                        "category": "science",
                        "parsed_url": [],
                    }
                    for r in results
                ],
                "answers": [],
                "corrections": [],
                "infoboxes": [],
                "suggestions": [],
                "unresponsive_engines": [],
            }
        )

    app = web.Application()
    app.router.add_get("/search", search)
    return app


async def agent_chat(url: str, body: dict[str, Any], *, confirm: bool | None = None) -> list[dict]:
    """POST /agent/chat and read every event; answers each `confirm` with `confirm` (if set)."""
    events: list[dict] = []
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/agent/chat", json=body) as resp:
            assert resp.status == 200, await resp.text()
            assert resp.headers["Content-Type"].startswith("application/x-ndjson")
            async for line in resp.content:
                if not line.strip():
                    continue
                event = json.loads(line)
                events.append(event)
                if event["type"] == "confirm" and confirm is not None:
                    answer = {"allow": confirm}
                    async with http.post(f"{url}/agent/confirm/{event['id']}", json=answer) as r:
                        assert r.status == 200, await r.text()
    return events


def of_type(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["type"] == kind]

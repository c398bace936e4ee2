"""`GET /cluster/stats`: how this coordinator's requests spread over nodes and tiers, error and
fallback rates, latency percentiles, over the last minute, hour and since start.

`?cluster=1` asks every other live peer for its own statistics (in parallel, each within
`monitoring.cluster_stats_timeout`, at most `MAX_PEER_STATS_BYTES` read) and adds them up: a
request counts once, at the peer that coordinated it. With a cluster key the request to a peer
is signed like a forwarded request. `?recent=N` adds this peer's last N finished requests.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from harombe.api.peer_auth import HOP_HEADER, RequestSigner
from harombe.stats.requests import RequestLog, Tally, merge_windows

STATS_PATH = "/cluster/stats"
MAX_PEER_STATS_BYTES = 1024 * 1024
"""The most of one peer's /cluster/stats answer read (about 30× a normal one)."""
MAX_PARALLEL_FETCHES = 32
"""Peers asked at once by `?cluster=1`."""

Peers = Callable[[], dict[str, str]]
"""Name → address of every other live peer."""


def local_stats(log: RequestLog, node: str, recent: int = 0) -> dict[str, Any]:
    stats: dict[str, Any] = {
        "node": node,
        "scope": "node",
        "uptime_s": round(log.uptime(), 3),
        "windows": {name: tally.as_dict() for name, tally in log.windows().items()},
    }
    if recent > 0:
        stats["recent"] = [r.as_dict() for r in list(log.recent)[:recent]]
    return stats


class PeerStats:
    """Fetches other peers' /cluster/stats over their HTTP API."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        timeout: float,
        signer: RequestSigner | None = None,
        scheme: str = "http",
    ) -> None:
        self._session = session
        self._scheme = scheme
        self._timeout = timeout
        self._signer = signer

    async def fetch(self, address: str) -> tuple[str, dict[str, Tally]]:
        """One peer's name and validated statistics; raises OSError, TimeoutError or
        ValueError."""
        headers = {HOP_HEADER: "stats"}
        if self._signer is not None:
            headers |= self._signer.headers("GET", STATS_PATH, b"", address)
        async with asyncio.timeout(self._timeout):
            try:
                async with self._session.get(
                    f"{self._scheme}://{address}{STATS_PATH}", headers=headers
                ) as resp:
                    if resp.status != 200:
                        raise ValueError(f"HTTP {resp.status}")
                    body = bytearray()
                    async for chunk in resp.content.iter_any():
                        body += chunk
                        if len(body) > MAX_PEER_STATS_BYTES:
                            raise ValueError(f"answer over {MAX_PEER_STATS_BYTES} bytes")
            except aiohttp.ClientError as exc:
                raise OSError(str(exc) or type(exc).__name__) from exc
        data = json.loads(body)
        try:
            return str(data["node"]), merge_windows([data["windows"]])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a statistics document ({exc})") from None

    async def cluster(self, own: RequestLog, node: str, peers: dict[str, str]) -> dict[str, Any]:
        """This peer's statistics added to those of every peer that answers in time."""
        gate = asyncio.Semaphore(MAX_PARALLEL_FETCHES)

        async def one(address: str) -> tuple[str, dict[str, Tally]] | str:
            async with gate:
                try:
                    return await self.fetch(address)
                except (OSError, TimeoutError, ValueError) as exc:
                    return f"{type(exc).__name__}: {exc}".rstrip(": ")

        results = await asyncio.gather(*(one(a) for a in peers.values()))
        windows = own.windows()
        merged = {name: Tally() for name in windows}
        for name, tally in windows.items():
            merged[name] += tally
        coordinators = [node]
        missing: dict[str, str] = {}
        for name, result in zip(peers, results, strict=True):
            if isinstance(result, str):
                missing[name] = result
                continue
            coordinators.append(result[0])
            for window, tally in result[1].items():
                merged[window] += tally
        return {
            "node": node,
            "scope": "cluster",
            "coordinators": sorted(coordinators),
            "missing": missing,
            "windows": {name: tally.as_dict() for name, tally in merged.items()},
        }


def add_stats_routes(
    app: web.Application,
    *,
    log: RequestLog,
    node_name: str,
    peers: Peers,
    fetcher: PeerStats,
    max_recent: int,
) -> None:
    async def stats(request: web.Request) -> web.Response:
        try:
            recent = min(int(request.query.get("recent", "0")), max_recent)
        except ValueError:
            return web.json_response({"error": "recent must be an integer"}, status=400)
        own = local_stats(log, node_name, recent)
        if request.query.get("cluster") not in ("1", "true"):
            return web.json_response(own)
        merged = await fetcher.cluster(log, node_name, peers())
        if recent > 0:
            merged["recent"] = own["recent"]
        return web.json_response(merged)

    app.router.add_get(STATS_PATH, stats)

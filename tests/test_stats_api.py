"""`/cluster/stats?cluster=1` against peers that misbehave: each is listed as missing with
why, within the time limit, and never spoils the sum of the others."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from aiohttp import web
from test_metrics import finished

from harombe.api.peer_auth import AUTH_HEADER, HOP_HEADER, RequestSigner, RequestVerifier
from harombe.api.stats_api import MAX_PEER_STATS_BYTES, PeerStats, add_stats_routes, local_stats
from harombe.stats.requests import RequestLog


def log_with(*nodes: str) -> RequestLog:
    log = RequestLog()
    for node in nodes:
        log.finished(finished(node=node))
    return log


@pytest.fixture
async def peers(aiohttp_server):
    """A peer per behaviour, by name → address."""
    good = local_stats(log_with("b", "b"), "good")
    stall = asyncio.Event()
    seen_headers: list[dict[str, str]] = []

    async def respond(request: web.Request) -> web.StreamResponse:
        seen_headers.append(dict(request.headers))
        kind = request.match_info["kind"]
        if kind == "good":
            return web.json_response(good)
        if kind == "garbage":
            return web.Response(text="<html>not json")
        if kind == "wrong-shape":
            return web.json_response({"node": "x", "windows": {"minute": {"requests": "many"}}})
        if kind == "huge":
            return web.Response(body=b" " * (MAX_PEER_STATS_BYTES + 10))
        if kind == "refuses":
            return web.json_response({"error": "no"}, status=401)
        await stall.wait()  # "slow": never answers in time
        return web.json_response(good)

    app = web.Application()
    app.router.add_get("/{kind}/cluster/stats", respond)
    server = await aiohttp_server(app, host="127.0.0.1")
    base = f"127.0.0.1:{server.port}"
    kinds = ("good", "garbage", "wrong-shape", "huge", "refuses", "slow")
    yield {k: f"{base}/{k}" for k in kinds}, seen_headers
    stall.set()


async def test_misbehaving_peers_are_missing_and_the_rest_add_up(peers):
    addresses, seen = peers
    async with aiohttp.ClientSession() as session:
        signer = RequestSigner([b"k" * 16], sender="me")
        fetcher = PeerStats(session, timeout=0.5, signer=signer)
        merged = await fetcher.cluster(log_with("a"), "me", addresses)
    assert merged["coordinators"] == ["good", "me"]
    assert set(merged["missing"]) == {"garbage", "wrong-shape", "huge", "refuses", "slow"}
    assert "HTTP 401" in merged["missing"]["refuses"]
    assert "over" in merged["missing"]["huge"]
    assert merged["missing"]["slow"] == "TimeoutError"
    assert merged["windows"]["total"]["requests"] == 3
    assert merged["windows"]["total"]["by_node"] == {"a": 1, "b": 2}
    # Asked as a peer: the hop marker, and a signature a keyed peer verifies.
    assert all(h.get(HOP_HEADER) and h.get(AUTH_HEADER) for h in seen)


async def test_stats_route_validates_its_query(aiohttp_client):
    app = web.Application()
    async with aiohttp.ClientSession() as session:
        add_stats_routes(
            app,
            log=log_with("a"),
            node_name="me",
            peers=dict,
            fetcher=PeerStats(session, timeout=1),
            max_recent=5,
        )
        client = await aiohttp_client(app)
        bad = await client.get("/cluster/stats?recent=lots")
        assert bad.status == 400
        ok = await client.get("/cluster/stats?recent=999")
        body = await ok.json()
        assert len(body["recent"]) == 1 and body["windows"]["total"]["requests"] == 1
        alone = await (await client.get("/cluster/stats?cluster=1")).json()
        assert alone["coordinators"] == ["me"] and alone["missing"] == {}


def test_a_signed_stats_request_passes_a_keyed_peer():
    keyring = [b"k" * 16]
    headers = RequestSigner(keyring, sender="me").headers(
        "GET", "/cluster/stats", b"", "10.0.0.2:8765"
    )
    verifier = RequestVerifier(keyring, destination="peer-b", aliases=["10.0.0.2:8765"])
    problem, digest = verifier.verify_headers(
        headers[AUTH_HEADER], "GET", "/cluster/stats", headers[HOP_HEADER]
    )
    assert problem is None and verifier.verify_body(b"", digest) is None
    assert json.dumps(local_stats(RequestLog(), "x"))  # serialisable as it is


async def test_dashboard_streams_are_capped_and_end_at_shutdown(aiohttp_client):
    from harombe.api.dashboard_api import LiveFeed, add_dashboard_routes

    log = RequestLog()
    feed = LiveFeed(log, interval=0.2, max_clients=2)
    app = web.Application()
    add_dashboard_routes(app, log=log, node_name="me", status=list, feed=feed)
    client = await aiohttp_client(app)
    first = await client.get("/dashboard/events")
    second = await client.get("/dashboard/events")
    assert first.status == second.status == 200
    assert (await first.content.readuntil(b"\n\n")).startswith(b"data: {")
    third = await client.get("/dashboard/events")
    assert third.status == 503  # the limit holds; the two streams go on
    log.finished(finished(node="x"))  # a finished request is pushed at once
    event = await asyncio.wait_for(second.content.readuntil(b"\n\n"), 5)
    while b'"requests":1' not in event:
        event = await asyncio.wait_for(second.content.readuntil(b"\n\n"), 5)
    await feed.close()
    assert await asyncio.wait_for(first.content.read(), 5) is not None  # the stream ends

"""Peer request signing: accepted once, stale, replayed, tampered, wrong destination, wrong key,
key rotation; and over real sockets, refused on the headers before the body is read."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator

import aiohttp
import pytest
from support.cli_support import node_config
from support.routing_peers import RoutingCluster

from harombe.api.peer_auth import (
    AUTH_HEADER,
    RequestSigner,
    RequestVerifier,
    SignedClaim,
    signature,
)
from harombe.daemon import Node
from harombe.inference import peer_wire
from harombe.inference.peer_wire import SPONSORED_HEADER
from harombe.inference.types import ChatRequest, Message
from harombe.routing.config import RoutingConfig

KEY = b"the-cluster-key-0123"
PATH = "/cluster/forward"


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def signed(
    key: bytes = KEY, *, clock: Clock, body: bytes = b"{}", destination: str = "b", gen: int = 1
) -> dict[str, str]:
    signer = RequestSigner([key], sender="a", clock=clock, generation=gen)
    return signer.headers("POST", PATH, body, destination)


def check(
    verifier: RequestVerifier, headers: dict[str, str], body: bytes = b"{}", path: str = PATH
) -> str | None:
    problem, digest = verifier.verify_headers(
        headers.get(AUTH_HEADER), "POST", path, headers[peer_wire.HOP_HEADER]
    )
    return problem or verifier.verify_body(body, digest)


def test_a_fresh_signature_is_accepted_once():
    clock = Clock()
    verifier = RequestVerifier([KEY], destination="b", clock=clock)
    headers = signed(clock=clock)
    assert check(verifier, headers) is None
    assert check(verifier, headers) == "replayed request"
    assert verifier.rejected == {"replayed request": 1}


def test_a_request_signed_for_one_peer_is_refused_by_another():
    clock = Clock()
    headers = signed(clock=clock, destination="b")
    problem = check(RequestVerifier([KEY], destination="c", clock=clock), headers)
    assert problem is not None and problem.startswith("bad signature")


def test_the_sender_is_signed_so_a_replay_cannot_pose_as_another_sender():
    clock = Clock()
    verifier = RequestVerifier([KEY], destination="b", clock=clock)
    headers = signed(clock=clock)
    assert check(verifier, headers) is None
    renamed = {**headers, peer_wire.HOP_HEADER: "someone-else"}
    assert check(verifier, renamed).startswith("bad signature")


@pytest.mark.parametrize(
    ("path", "body", "why"),
    [("/api/chat", b"{}", "bad signature"), (PATH, b"[]", "body does not match")],
)
def test_any_change_to_the_request_breaks_the_signature(path, body, why):
    clock = Clock()
    verifier = RequestVerifier([KEY], destination="b", clock=clock)
    assert check(verifier, signed(clock=clock), body=body, path=path).startswith(why)


def test_signatures_outside_the_window_are_stale():
    clock = Clock()
    verifier = RequestVerifier([KEY], destination="b", window=30, clock=clock)
    headers = signed(clock=clock)
    clock.now += 31
    assert check(verifier, headers).startswith("stale signature")


@pytest.mark.parametrize("bad", [None, "", "garbage", "1.2.3", "12.1.1.abc.xyz"])
def test_missing_or_malformed_tokens_are_rejected(bad):
    verifier = RequestVerifier([KEY], destination="b", clock=Clock())
    problem, _ = verifier.verify_headers(bad, "POST", PATH, "a")
    assert problem in ("missing signature", "malformed signature")


def test_any_key_of_the_ring_is_accepted_for_rotation():
    clock = Clock()
    verifier = RequestVerifier([b"new", b"old"], destination="b", clock=clock)
    assert check(verifier, signed(b"old", clock=clock, gen=1)) is None
    assert check(verifier, signed(b"new", clock=clock, gen=2)) is None
    assert check(verifier, signed(b"other", clock=clock, gen=3)) is not None


def test_the_replay_cache_is_bounded_per_sender():
    clock = Clock()
    verifier = RequestVerifier([KEY], destination="b", nonces_per_sender=3, clock=clock)
    signer = RequestSigner([KEY], sender="a", clock=clock, generation=1)
    for _ in range(5):
        assert check(verifier, signer.headers("POST", PATH, b"{}", "b")) is None
    assert len(verifier._replay._seen["a"]) == 3


def test_the_replay_cache_is_bounded_in_senders():
    clock = Clock()
    verifier = RequestVerifier([KEY], destination="b", max_senders=16, clock=clock)
    for n in range(20):
        signer = RequestSigner([KEY], sender=f"peer-{n}", clock=clock, generation=1)
        assert check(verifier, signer.headers("POST", PATH, b"{}", "b")) is None
    assert list(verifier._replay._seen) == [f"peer-{n}" for n in range(4, 20)]


async def test_the_replay_bounds_come_from_the_security_config():
    security = {
        "cluster_key": KEY.decode(),
        "request_nonces_per_sender": 32,
        "request_max_senders": 16,
    }
    async with Node(node_config("b", security=security)) as node:
        assert node.verifier is not None
        guard = node.verifier._replay
        assert (guard.per_sender, guard.max_senders) == (32, 16)


def test_a_request_without_signed_headers_is_signed_as_before_they_existed():
    """Older peers sign the eight fields alone: their requests must still verify."""
    claim = SignedClaim(1, 2, 3, "post", PATH, "a", "b", "d" * 64)
    old_format = hmac.new(KEY, f"1|2|3|POST|{PATH}|a|b|{'d' * 64}".encode(), hashlib.sha256)
    assert signature(KEY, claim) == old_format.hexdigest()


def test_the_sponsored_header_is_covered_by_the_signature():
    clock = Clock()
    verifier = RequestVerifier([KEY], destination="b", clock=clock)
    signer = RequestSigner([KEY], sender="a", clock=clock, generation=1)

    def verify(headers: dict[str, str]) -> str | None:
        problem, digest = verifier.verify_headers(
            headers.get(AUTH_HEADER), "POST", PATH, "a", headers
        )
        return problem or verifier.verify_body(b"{}", digest)

    headers = signer.headers("POST", PATH, b"{}", "b", {SPONSORED_HEADER: "cloud"})
    assert headers[SPONSORED_HEADER] == "cloud"
    assert verify({**headers, SPONSORED_HEADER: "other"}).startswith("bad signature")
    assert verify({k: v for k, v in headers.items() if k != SPONSORED_HEADER}).startswith(
        "bad signature"
    )
    plain = signer.headers("POST", PATH, b"{}", "b")
    assert verify({**plain, SPONSORED_HEADER.lower(): "cloud"}).startswith("bad signature")
    assert verify(headers) is None


def test_only_the_listed_headers_can_be_signed():
    with pytest.raises(ValueError, match="not signable"):
        RequestSigner([KEY], sender="a").headers("POST", PATH, b"", "b", {"X-Other": "1"})


def test_a_signer_needs_a_key():
    with pytest.raises(ValueError, match="at least one key"):
        RequestSigner([], sender="a")


# ---- over real sockets --------------------------------------------------------------------


@pytest.fixture
async def signed_pair() -> AsyncIterator[RoutingCluster]:
    cluster = RoutingCluster(RoutingConfig(first_token_timeout=5.0), keyring=[KEY])
    await cluster.add("a", 1, fake=False)
    await cluster.add("b", 1)
    await cluster.add("c", 1)
    async with cluster:
        yield cluster


async def test_a_bad_signature_is_refused_before_the_body_is_sent(signed_pair):
    """A 30 MB upload announced with a forged signature: 401 arrives while not one byte of the
    body has been sent, so the peer never reads (or buffers) it."""
    peer = signed_pair["b"]
    forged = RequestSigner([b"not-the-cluster-key"], sender="a").headers("POST", PATH, b"x", "b")
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: {peer.address}\r\n"
        f"Content-Type: {peer_wire.CONTENT_TYPE}\r\nContent-Length: {30 * 1024 * 1024}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in forged.items())
        + "\r\n"
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", peer.port)
    try:
        writer.write(head.encode())
        await writer.drain()
        async with asyncio.timeout(10):
            status_line = await reader.readline()
    finally:
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 401")
    assert signed_pair.served()["b"] == 0


async def forward(cluster: RoutingCluster, to: str, headers: dict[str, str], body: bytes) -> int:
    headers = {**headers, peer_wire.VERSION_HEADER: "1", "Content-Type": peer_wire.CONTENT_TYPE}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{cluster[to].url}{PATH}", data=body, headers=headers) as resp:
            await resp.read()
            return resp.status


async def test_a_captured_request_is_refused_by_another_peer_and_when_replayed(signed_pair):
    body = peer_wire.encode_request(ChatRequest([Message("user", "hi")], model="fake-model"))
    headers = RequestSigner([KEY], sender="a").headers("POST", PATH, body, "b")
    assert await forward(signed_pair, "b", headers, body) == 200
    assert await forward(signed_pair, "b", headers, body) == 401  # replayed
    assert await forward(signed_pair, "c", headers, body) == 401  # meant for b
    tampered = body.replace(b"hi", b"yo")
    fresh = RequestSigner([KEY], sender="a").headers("POST", PATH, body, "b")
    assert await forward(signed_pair, "b", fresh, tampered) == 401  # body not as signed
    assert signed_pair.served() == {"b": 1, "c": 0}


async def test_a_captured_request_with_its_sponsored_header_altered_is_refused(signed_pair):
    """The sponsored header picks the server that serves the request: changing it on the way
    (to a server the attacker prefers) breaks the signature, even on the request's first use."""
    body = peer_wire.encode_request(ChatRequest([Message("user", "hi")], model="fake-model"))
    signer = RequestSigner([KEY], sender="a")
    captured = signer.headers("POST", PATH, body, "b", {SPONSORED_HEADER: "cloud-box"})
    assert await forward(signed_pair, "b", {**captured, SPONSORED_HEADER: "evil"}, body) == 401
    assert signed_pair.served()["b"] == 0
    # As signed it passes (these test peers serve every forwarded request themselves).
    assert await forward(signed_pair, "b", captured, body) == 200
    assert signed_pair.served()["b"] == 1


async def test_signed_forwarding_between_peers_works(signed_pair):
    async with aiohttp.ClientSession() as http:
        body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}], "stream": False}
        async with http.post(f"{signed_pair['a'].url}/api/chat", json=body) as resp:
            answer = await resp.json()
    assert resp.status == 200 and answer["message"]["content"] == "Hello from fake"


async def test_a_flood_of_forged_signatures_logs_one_line(signed_pair, caplog):
    """Every refusal is counted, but a stranger sending bad signatures cannot flood the log: one
    summary line per interval, with the count."""
    forged = RequestSigner([b"not-the-cluster-key"], sender="a")
    caplog.set_level("WARNING", logger="harombe.api.peer_auth")
    for _ in range(20):
        assert await forward(signed_pair, "b", forged.headers("POST", PATH, b"x", "b"), b"x") == 401
    lines = [r for r in caplog.records if "forwarded requests refused" in r.getMessage()]
    assert len(lines) == 1

"""Peer request signing: accepted, stale, replayed, tampered, wrong key, key rotation."""

import pytest

from harombe.api.peer_auth import RequestSigner, RequestVerifier


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def token(key: bytes, clock: Clock, body: bytes = b"{}", path: str = "/api/chat") -> str:
    return RequestSigner([key], clock=clock).headers("POST", path, body)["X-Harombe-Auth"]


def test_a_fresh_signature_is_accepted_once():
    clock = Clock()
    verifier = RequestVerifier([b"k"], clock=clock)
    t = token(b"k", clock)
    assert verifier.verify(t, "POST", "/api/chat", b"{}") is None
    assert verifier.verify(t, "POST", "/api/chat", b"{}") == "replayed request"
    assert verifier.rejected == {"replayed request": 1}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("GET", "/api/chat", b"{}"), ("POST", "/api/generate", b"{}"), ("POST", "/api/chat", b"[]")],
)
def test_any_change_to_the_request_breaks_the_signature(method, path, body):
    clock = Clock()
    t = token(b"k", clock)
    problem = RequestVerifier([b"k"], clock=clock).verify(t, method, path, body)
    assert problem == "bad signature (different cluster key?)"


def test_signatures_outside_the_window_are_stale():
    clock = Clock()
    verifier = RequestVerifier([b"k"], window=30, clock=clock)
    t = token(b"k", clock)
    clock.now += 31
    assert verifier.verify(t, "POST", "/api/chat", b"{}").startswith("stale signature")


@pytest.mark.parametrize("bad", [None, "", "garbage", "1.2.3", "12.abcdefabcdefabcd.xyz"])
def test_missing_or_malformed_tokens_are_rejected(bad):
    problem = RequestVerifier([b"k"], clock=Clock()).verify(bad, "POST", "/api/chat", b"")
    assert problem in ("missing signature", "malformed signature")


def test_any_key_of_the_ring_is_accepted_for_rotation():
    clock = Clock()
    verifier = RequestVerifier([b"new", b"old"], clock=clock)
    assert verifier.verify(token(b"old", clock), "POST", "/api/chat", b"{}") is None
    assert verifier.verify(token(b"new", clock), "POST", "/api/chat", b"{}") is None
    assert verifier.verify(token(b"other", clock), "POST", "/api/chat", b"{}") is not None


def test_the_nonce_cache_forgets_expired_and_stays_bounded():
    clock = Clock()
    verifier = RequestVerifier([b"k"], window=10, max_nonces=3, clock=clock)
    for _ in range(5):
        assert verifier.verify(token(b"k", clock), "POST", "/api/chat", b"{}") is None
    assert len(verifier._seen) == 3
    clock.now += 11
    verifier.verify(token(b"k", clock), "POST", "/api/chat", b"{}")
    assert len(verifier._seen) == 1


def test_a_signer_needs_a_key():
    with pytest.raises(ValueError, match="at least one key"):
        RequestSigner([])

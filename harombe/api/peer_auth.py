"""Authenticating requests one peer forwards to another (HMAC-SHA256 with the cluster keyring).

A forwarded request carries `X-Harombe-Hop`, which makes the receiving peer serve it itself,
bypassing routing. With a cluster key set, such a request must also carry

    X-Harombe-Auth: <unix seconds>.<nonce>.<HMAC>
    HMAC = hex HMAC-SHA256(key, "ts|nonce|METHOD|path|hex sha256(body)")

signed with the first key of the keyring; any key of the ring is accepted, so keys can be
rotated one peer at a time. A signature is valid `window` seconds either side of the receiver's
clock, and each nonce once: a captured request cannot be replayed.

Requests without the hop header are client requests (the Ollama, OpenAI and cluster APIs,
`/cluster/execute` included) and pass unchecked: clients such as Open WebUI cannot sign, and
guarding one client endpoint while `/api/chat` answers the same queries would add no security.
Put the HTTP port behind a firewall or an authenticating proxy where clients must be trusted.
Without a keyring nothing is checked: the network itself is trusted.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable, Sequence

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

log = logging.getLogger(__name__)

AUTH_HEADER = "X-Harombe-Auth"
HOP_HEADER = "X-Harombe-Hop"
DEFAULT_WINDOW = 30.0
"""Seconds a signature stays valid either side of the receiver's clock: peers' clocks must agree
within it (NTP keeps them within milliseconds); shorter narrows the replay cache's span."""
DEFAULT_MAX_NONCES = 100_000
"""Nonces remembered at once (about 10 MB); the oldest are forgotten first when full."""

_TOKEN = re.compile(r"(\d{1,12})\.([0-9a-f]{16,64})\.([0-9a-f]{64})")


def signature(key: bytes, ts: str, nonce: str, method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256(body).hexdigest()
    message = f"{ts}|{nonce}|{method.upper()}|{path}|{digest}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


class RequestSigner:
    def __init__(self, keyring: Sequence[bytes], *, clock: Callable[[], float] = time.time) -> None:
        if not keyring:
            raise ValueError("a RequestSigner needs at least one key")
        self._key = keyring[0]
        self._clock = clock

    def headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        ts = str(int(self._clock()))
        nonce = secrets.token_hex(16)
        mac = signature(self._key, ts, nonce, method, path, body)
        return {AUTH_HEADER: f"{ts}.{nonce}.{mac}"}


class RequestVerifier:
    def __init__(
        self,
        keyring: Sequence[bytes],
        *,
        window: float = DEFAULT_WINDOW,
        max_nonces: int = DEFAULT_MAX_NONCES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keyring = list(keyring)
        self._window = window
        self._max_nonces = max_nonces
        self._clock = clock
        self._seen: collections.OrderedDict[str, float] = collections.OrderedDict()
        self.rejected: collections.Counter[str] = collections.Counter()

    def verify(self, token: str | None, method: str, path: str, body: bytes) -> str | None:
        """None when the request is authentic and fresh, else why not (also counted)."""
        problem = self._check(token, method, path, body)
        if problem is not None:
            self.rejected[problem] += 1
        return problem

    def _check(self, token: str | None, method: str, path: str, body: bytes) -> str | None:
        if not token:
            return "missing signature"
        match = _TOKEN.fullmatch(token)
        if match is None:
            return "malformed signature"
        ts, nonce, mac = match.groups()
        now = self._clock()
        if abs(now - int(ts)) > self._window:
            return "stale signature (check the peers' clocks)"
        if not any(
            hmac.compare_digest(mac, signature(key, ts, nonce, method, path, body))
            for key in self._keyring
        ):
            return "bad signature (different cluster key?)"
        self._forget_expired(now)
        if nonce in self._seen:
            return "replayed request"
        self._seen[nonce] = int(ts) + self._window
        if len(self._seen) > self._max_nonces:
            self._seen.popitem(last=False)
        return None

    def _forget_expired(self, now: float) -> None:
        while self._seen:
            nonce, expires = next(iter(self._seen.items()))
            if expires >= now:
                return
            del self._seen[nonce]


def peer_auth_middleware(
    keyring: Sequence[bytes],
    *,
    window: float = DEFAULT_WINDOW,
    clock: Callable[[], float] = time.time,
    verifier: RequestVerifier | None = None,
) -> Middleware:
    """401 `{"error": ...}` for a hop request without a valid signature, when `keyring` is set.
    Pass `verifier` to read its `rejected` counts (metrics)."""
    if keyring and verifier is None:
        verifier = RequestVerifier(keyring, window=window, clock=clock)

    @web.middleware
    async def check_peer_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if verifier is None or HOP_HEADER not in request.headers:
            return await handler(request)
        body = await request.read()
        problem = verifier.verify(
            request.headers.get(AUTH_HEADER), request.method, request.path_qs, body
        )
        if problem is not None:
            log.warning("rejected a forwarded request from %s: %s", request.remote, problem)
            return web.json_response(
                {"error": f"peer authentication failed: {problem}"}, status=401
            )
        return await handler(request)

    return check_peer_auth

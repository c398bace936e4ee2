"""Authenticating requests one peer forwards to another (HMAC-SHA256 with the cluster keyring).

A forwarded request carries `X-Harombe-Hop: <sender>`, which makes the receiving peer serve it
itself, bypassing routing. With a cluster key set, such a request must also carry

    X-Harombe-Auth: <unix seconds>.<generation>.<seq>.<hex sha256(body)>.<hex HMAC>
    HMAC = HMAC-SHA256(key, "ts|generation|seq|METHOD|path|sender|destination|body digest"
                            + "|name:value" for each of SIGNED_HEADERS the request carries)

signed with the first key of the keyring; any key of the ring is accepted, so keys can be
rotated one peer at a time. The headers that change what the receiver does with a request
(`SIGNED_HEADERS`: which sponsored server serves it) are signed too, by name (lower case) and
value, in that list's order; a request without any of them is signed exactly as before they
were, so older peers' requests still verify. `destination` is the receiving peer's name (or
its address, for callers that know it only by that): a request captured on its way to B is
refused by C.
`(sender, generation, seq)` is the nonce: the sender's start time in ms and a counter, checked
by the same `ReplayGuard` that guards membership frames, so a request is accepted once, within
`window` seconds either side of the receiver's clock.

Everything but the body is checked on the headers, before the body is read: a stranger's
request is refused with 401 without reading its upload. The body is then read within the
limits (`api.body.read_body`: 413, or 408 when it stalls) and must match the signed digest.

Requests without the hop header are client requests (the Ollama, OpenAI and cluster APIs) and
pass unchecked here: client API keys guard those. Without a keyring nothing is checked: the
network itself is trusted.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from harombe.api.body import read_body
from harombe.api.errors import ApiError
from harombe.cluster.replay import ReplayGuard
from harombe.config import SecurityConfig
from harombe.inference.peer_wire import HOP_HEADER, SPONSORED_HEADER
from harombe.ratelimited_log import RateLimitedLog

log = logging.getLogger(__name__)

AUTH_HEADER = "X-Harombe-Auth"
DEFAULT_LOG_INTERVAL = 60.0
"""Seconds between two summary lines of refused forwarded requests."""
_SECURITY = SecurityConfig.model_fields
DEFAULT_WINDOW: float = _SECURITY["request_window"].default
DEFAULT_NONCES_PER_SENDER: int = _SECURITY["request_nonces_per_sender"].default
DEFAULT_MAX_SENDERS: int = _SECURITY["request_max_senders"].default
MAX_SENDER_CHARS = 256
SIGNED_HEADERS = (SPONSORED_HEADER,)
"""Headers a forwarded request's signature covers when present (the hop header, the sender, is
signed as `sender`)."""

_TOKEN = re.compile(r"(\d{1,12})\.(\d{1,20})\.(\d{1,20})\.([0-9a-f]{64})\.([0-9a-f]{64})")


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def signature(key: bytes, claim: SignedClaim) -> str:
    message = "|".join(
        (
            str(claim.ts),
            str(claim.generation),
            str(claim.seq),
            claim.method.upper(),
            claim.path,
            claim.sender,
            claim.destination,
            claim.digest,
            *(f"{name.lower()}:{value}" for name, value in claim.headers),
        )
    )
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SignedClaim:
    """What one signature vouches for."""

    ts: int
    generation: int
    seq: int
    method: str
    path: str
    sender: str
    destination: str
    digest: str
    headers: tuple[tuple[str, str], ...] = ()
    """(name, value) of each of `SIGNED_HEADERS` present, in that order."""


def signed_headers(headers: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The `SIGNED_HEADERS` among `headers` (any case), in the order they are signed; of a
    repeated header the first, the one `headers.get` (and so every reader) sees."""
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        lowered.setdefault(name.lower(), value)
    return tuple(
        (name, lowered[name.lower()]) for name in SIGNED_HEADERS if name.lower() in lowered
    )


class RequestSigner:
    """Signs this peer's forwarded requests. `generation` (default: start time in ms) and a
    counter make each nonce unique across restarts."""

    def __init__(
        self,
        keyring: Sequence[bytes],
        *,
        sender: str,
        clock: Callable[[], float] = time.time,
        generation: int | None = None,
    ) -> None:
        if not keyring:
            raise ValueError("a RequestSigner needs at least one key")
        self._key = keyring[0]
        self._sender = sender
        self._clock = clock
        self._generation = generation if generation is not None else time.time_ns() // 1_000_000
        self._seq = 0

    def headers(
        self,
        method: str,
        path: str,
        body: bytes,
        destination: str,
        signed: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """The hop and auth headers, and the `signed` ones (each one of `SIGNED_HEADERS`)."""
        signed = dict(signed or {})
        unknown = {n.lower() for n in signed} - {n.lower() for n in SIGNED_HEADERS}
        if unknown:
            raise ValueError(f"not signable headers: {sorted(unknown)} (see SIGNED_HEADERS)")
        self._seq += 1
        claim = SignedClaim(
            ts=int(self._clock()),
            generation=self._generation,
            seq=self._seq,
            method=method,
            path=path,
            sender=self._sender,
            destination=destination,
            digest=body_digest(body),
            headers=signed_headers(signed),
        )
        mac = signature(self._key, claim)
        token = f"{claim.ts}.{claim.generation}.{claim.seq}.{claim.digest}.{mac}"
        return {**signed, HOP_HEADER: self._sender, AUTH_HEADER: token}


class RequestVerifier:
    """Checks forwarded requests addressed to `destination` (this peer's name) or to one of
    its `aliases` (its address, for callers that know a peer only by where it listens)."""

    def __init__(
        self,
        keyring: Sequence[bytes],
        *,
        destination: str,
        aliases: Sequence[str] = (),
        window: float = DEFAULT_WINDOW,
        nonces_per_sender: int = DEFAULT_NONCES_PER_SENDER,
        max_senders: int = DEFAULT_MAX_SENDERS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keyring = list(keyring)
        self._destinations = (destination, *aliases)
        self._clock = clock
        self._replay = ReplayGuard(window, nonces_per_sender, max_senders)
        self.rejected: collections.Counter[str] = collections.Counter()

    def verify_headers(
        self,
        token: str | None,
        method: str,
        path: str,
        sender: str,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[str | None, str]:
        """(None, the signed body digest) when the headers are authentic, fresh and meant for
        this peer; else (why not, ""), counted in `rejected`. `headers`: the request's, of
        which `SIGNED_HEADERS` must be as signed."""
        signed = signed_headers(headers or {})
        problem, digest = self._check(token, method, path, sender, signed)
        if problem is not None:
            self.rejected[problem] += 1
        return problem, digest

    def verify_body(self, body: bytes, digest: str) -> str | None:
        if hmac.compare_digest(body_digest(body), digest):
            return None
        problem = "body does not match its signature"
        self.rejected[problem] += 1
        return problem

    def _check(
        self,
        token: str | None,
        method: str,
        path: str,
        sender: str,
        signed: tuple[tuple[str, str], ...],
    ) -> tuple[str | None, str]:
        if not token:
            return "missing signature", ""
        match = _TOKEN.fullmatch(token)
        if match is None or len(sender) > MAX_SENDER_CHARS:
            return "malformed signature", ""
        ts, generation, seq, digest, mac = match.groups()
        claims = [
            SignedClaim(
                int(ts), int(generation), int(seq), method, path, sender, to, digest, signed
            )
            for to in self._destinations
        ]
        if not any(
            hmac.compare_digest(mac, signature(key, claim))
            for key in self._keyring
            for claim in claims
        ):
            return "bad signature (different cluster key, or meant for another peer?)", ""
        claim = claims[0]
        why = self._replay.check(sender, claim.generation, claim.seq, claim.ts, self._clock())
        if why == "stale":
            return "stale signature (check the peers' clocks)", ""
        if why is not None:
            return "replayed request", ""
        return None, digest


def peer_auth_middleware(
    verifier: RequestVerifier | None, *, log_interval: float = DEFAULT_LOG_INTERVAL
) -> Middleware:
    """401 `{"error": ...}` for a hop request without a valid signature; pass-through when
    `verifier` is None (no cluster key). Read `verifier.rejected` for metrics. Refusals are
    logged as one summary line per `log_interval` seconds (`limits.log_interval`): a stranger
    sending bad signatures cannot flood the log."""
    refusals = RateLimitedLog(log, log_interval)

    @web.middleware
    async def check_peer_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        sender = request.headers.get(HOP_HEADER)
        if verifier is None or sender is None:
            return await handler(request)
        problem, digest = verifier.verify_headers(
            request.headers.get(AUTH_HEADER),
            request.method,
            request.path_qs,
            sender,
            request.headers,
        )
        if problem is None:
            try:
                body = await read_body(request)
            except ApiError as exc:
                return web.json_response(
                    {"error": exc.message}, status=exc.status, headers={"Connection": "close"}
                )
            problem = verifier.verify_body(body, digest)
        if problem is not None:
            refusals.event(f"forwarded requests refused: {problem}")
            return web.json_response(
                {"error": f"peer authentication failed: {problem}"},
                status=401,
                headers={"Connection": "close"},
            )
        return await handler(request)

    return check_peer_auth

"""Serving the app on the peer's socket: the connection guard, TLS, and the file-descriptor limit.

`HttpServer` is an async context manager: it sets up aiohttp's runner, listens through the
`ConnectionGuard` (optionally over TLS), and on exit stops listening, then lets the runner close
connections and run the app's shutdown and cleanup hooks.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from harombe.api.guard import ConnectionGuard
from harombe.config import TlsConfig

log = logging.getLogger(__name__)


def raise_open_file_limit() -> int | None:
    """Raise the soft RLIMIT_NOFILE to the hard limit (each connection is one descriptor);
    the new soft limit, or None where the platform has no such limit."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:
        log.warning("cannot raise the open-file limit from %d to %d: %s", soft, target, exc)
        return soft
    return target


def server_tls_context(tls: TlsConfig) -> ssl.SSLContext | None:
    """HTTPS for clients and peers; with a CA, peers' client certificates are verified (a
    certificate not signed by it fails the handshake; clients may present none)."""
    if tls.cert is None or tls.key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.cert.expanduser(), tls.key.expanduser())
    if tls.ca is not None:
        context.load_verify_locations(tls.ca.expanduser())
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def client_tls_context(tls: TlsConfig) -> ssl.SSLContext | None:
    """How this peer dials others: verify them against the CA (system CAs without one) and
    present its own certificate for mutual TLS."""
    if tls.cert is None or tls.key is None:
        return None
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=tls.ca.expanduser() if tls.ca else None
    )
    context.load_cert_chain(tls.cert.expanduser(), tls.key.expanduser())
    return context


def peer_certificate_middleware(peer_paths: frozenset[str], hop_header: str) -> Middleware:
    """403 on the peer paths (and forwarded requests) for a connection without a client
    certificate signed by the cluster CA; used when `tls.ca` is set."""

    @web.middleware
    async def require_peer_cert(request: web.Request, handler: Handler) -> web.StreamResponse:
        is_peer = request.path in peer_paths or hop_header in request.headers
        if is_peer and request.transport is not None:
            if not request.transport.get_extra_info("peercert"):
                return web.json_response(
                    {"error": "peer paths need a client certificate signed by the cluster CA"},
                    status=403,
                )
        return await handler(request)

    return require_peer_cert


class HttpServer:
    """The app served on `sock` under the guard's limits, over TLS when `ssl_context` is given."""

    def __init__(
        self,
        app: web.Application,
        sock: socket.socket,
        *,
        guard: ConnectionGuard,
        ssl_context: ssl.SSLContext | None = None,
        **runner_args: Any,
    ) -> None:
        self.guard = guard
        self._runner = web.AppRunner(app, **runner_args)
        self._sock = sock
        self._ssl_context = ssl_context
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> HttpServer:
        await self._runner.setup()
        try:
            self._server = await self.guard.listen(
                self._runner,
                self._sock,
                ssl_context=self._ssl_context,
                keepalive_timeout=self.guard.limits.keepalive_timeout,
                lingering_time=self.guard.limits.lingering_timeout,
            )
        except BaseException:
            await self._runner.cleanup()
            raise
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        if self._server is not None:
            self._server.close()  # stop accepting; the runner closes live connections
        await self._runner.cleanup()

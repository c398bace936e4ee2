"""The HTTP listener's connection guard: a cap on client connections and a header deadline.

aiohttp bounds neither the number of connections nor the time a client may take to send a
request's headers, so a flood of idle sockets exhausts file descriptors and slowloris clients
hold them forever. `ConnectionGuard` fixes both at the connection level:

- each connection must complete a request's headers within `header_timeout` of connecting, or
  of the end of its previous request, else it is closed;
- at `max_connections`, a new connection closes the longest-idle one (no request in flight),
  so a flood of idle sockets cannot lock out real clients; when every connection is busy the new
  one gets a 503 and is closed.

Refusals, evictions and timeouts are counted (`stats`) and logged at most once per
`log_interval`, never once per connection.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from harombe.limits import LimitsConfig
from harombe.ratelimited_log import RateLimitedLog

log = logging.getLogger(__name__)

_BUSY_BODY = b'{"error": "too many connections; retry in a second"}'
_BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: application/json\r\n"
    b"Retry-After: 1\r\n"
    b"Connection: close\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY)
)


@dataclass
class GuardStats:
    open: int = 0
    """Connections held now."""
    events: collections.Counter[str] = field(default_factory=collections.Counter)
    """`evicted` (idle, closed for a newcomer), `refused` (503, all busy), `header_timeout`."""


class GuardedHandler(web.RequestHandler):
    """aiohttp's request handler (one per connection) with the guard's bookkeeping."""

    def __init__(self, manager: web.Server, *, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self.guard = guard
        self.in_flight = 0
        self.started = 0  # requests whose headers arrived on this connection
        self.refused = False
        self.closed = False
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self.guard.admit(self):
            self.refused = True
            assert isinstance(transport, asyncio.Transport)
            transport.write(_BUSY_RESPONSE)
            transport.close()
            return
        super().connection_made(transport)
        self.arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        if not self.refused:
            super().data_received(data)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self.refused:
            return
        self.disarm()
        self.guard.release(self)
        super().connection_lost(exc)

    def arm_header_deadline(self) -> None:
        self.disarm()
        self._deadline = self._loop.call_later(
            self.guard.limits.header_timeout, self._headers_late, self.started
        )

    def disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_late(self, started_before: int) -> None:
        self._deadline = None
        if self.in_flight == 0 and self.started == started_before:
            self.guard.note("connections closed for slow headers (header_timeout)")
            self.guard.stats.events["header_timeout"] += 1
            self.force_close()


class ConnectionGuard:
    """Owns the connection cap and deadlines of one listener; see the module docstring."""

    def __init__(self, limits: LimitsConfig) -> None:
        self.limits = limits
        self.stats = GuardStats()
        self._idle: collections.OrderedDict[GuardedHandler, None] = collections.OrderedDict()
        self._busy: set[GuardedHandler] = set()
        self._log = RateLimitedLog(log, limits.log_interval)

    def note(self, what: str) -> None:
        self._log.event(what)

    def admit(self, handler: GuardedHandler) -> bool:
        if len(self._idle) + len(self._busy) >= self.limits.max_connections:
            if not self._idle:
                self.stats.events["refused"] += 1
                self.note("connections refused with 503: every connection busy (max_connections)")
                return False
            oldest, _ = self._idle.popitem(last=False)
            self.stats.events["evicted"] += 1
            self.note("idle connections closed to admit new ones (max_connections)")
            oldest.disarm()
            oldest.force_close()
        self._idle[handler] = None
        self.stats.open = len(self._idle) + len(self._busy)
        return True

    def release(self, handler: GuardedHandler) -> None:
        handler.closed = True
        self._idle.pop(handler, None)
        self._busy.discard(handler)
        self.stats.open = len(self._idle) + len(self._busy)

    def request_started(self, handler: GuardedHandler) -> None:
        handler.started += 1
        handler.in_flight += 1
        handler.disarm()
        if not handler.closed:
            self._idle.pop(handler, None)
            self._busy.add(handler)

    def request_ended(self, handler: GuardedHandler) -> None:
        handler.in_flight -= 1
        if handler.in_flight == 0 and not handler.closed:
            self._busy.discard(handler)
            self._idle[handler] = None
            handler.arm_header_deadline()

    def middleware(self) -> Middleware:
        """Marks each request in flight on its connection (outermost middleware)."""

        @web.middleware
        async def track(request: web.Request, handler: Handler) -> web.StreamResponse:
            connection = request.protocol
            if not isinstance(connection, GuardedHandler):
                return await handler(request)
            self.request_started(connection)
            try:
                return await handler(request)
            finally:
                self.request_ended(connection)

        return track

    async def listen(
        self,
        runner: web.AppRunner,
        sock: socket.socket,
        *,
        ssl_context: ssl.SSLContext | None = None,
        **handler_args: Any,
    ) -> asyncio.Server:
        """Serve `runner`'s app on `sock` through guarded handlers; `handler_args` go to
        aiohttp's RequestHandler (keepalive_timeout, ...). Close the returned server before
        `runner.cleanup()`."""
        server = runner.server
        if server is None:
            raise RuntimeError("ConnectionGuard.listen() before runner.setup()")
        loop = asyncio.get_running_loop()

        def protocol() -> GuardedHandler:
            return GuardedHandler(server, guard=self, loop=loop, **handler_args)

        return await loop.create_server(
            protocol,
            sock=sock,
            ssl=ssl_context,
            ssl_handshake_timeout=self.limits.header_timeout if ssl_context else None,
        )

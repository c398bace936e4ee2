"""Peer websocket transport: carries membership frames between peers as binary messages.

Frames are opaque bytes here; the membership core decodes, authenticates and counts them. Each
destination gets one long-lived outbound connection fed by a bounded queue (`ws_link.py`), and
other peers connect to `GET /cluster/ws`. The protocol tolerates loss, so a frame that cannot
go out promptly (queue full, peer unreachable) is dropped and counted rather than buffered.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

import aiohttp
from aiohttp import WSCloseCode, WSMsgType, web

from harombe.cluster.ws_link import (
    PEER_HEADER,
    DropReason,
    LinkSettings,
    LinkState,
    OutboundLink,
    TransportStats,
)
from harombe.ratelimited_log import RateLimitedLog

log = logging.getLogger(__name__)

__all__ = [
    "PEER_HEADER",
    "DropReason",
    "LinkState",
    "TransportStats",
    "WebSocketTransport",
]


class WebSocketTransport:
    """Best-effort frame delivery between peers over aiohttp websockets.

    Parameters (every limit in bytes or seconds):
      local_address: this peer's own "host:port"; frames addressed to it are dropped.
      on_frame: called with each binary frame received, inbound or on an outbound link;
        returns False when the frame is not a cluster member's (see handshake_timeout).
      max_frame_bytes: largest frame sent or accepted; larger inbound ones are rejected by the
        websocket reader before they are buffered, and that connection is closed.
      session: client session for outbound links; by default one is created and owned.
      connect_timeout (2.0): seconds to dial and upgrade, and to wait for a closing handshake.
      heartbeat (5.0): websocket ping interval; a pong missing for half of it drops the
        connection, which catches half-open TCP faster than the OS does.
      reconnect_min (0.1), reconnect_max (5.0): redial backoff bounds; the ceiling doubles per
        consecutive failure, with jitter so peers that failed together spread out.
      max_connect_failures (8): consecutive failed dials before a link is dropped altogether
        (about 12 s with the defaults); the next `send` to that address dials afresh, so links
        to peers that are gone do not linger.
      idle_timeout (60.0): an outbound connection that carried nothing for this long is closed.
      close_timeout (1.0): how long `close()` lets queued frames go out first; a leaving
        node's last gossip is among them.
      queue_size (256): frames buffered per destination before new ones are dropped.
      path ("/cluster/ws"): the route served and dialled.
      scheme ("http"): "https" dials peers over TLS (WSS); the session's connector carries the
        TLS context.
      max_inbound (128): inbound websockets held at once; more get 503 before the upgrade.
      handshake_timeout (5.0): an inbound websocket must deliver a frame `on_frame` accepts
        within this many seconds, else it is closed: strangers cannot park sockets, silent or
        sending garbage.
      log_interval (60.0): refused and silent sockets are logged as one line per interval.
      rng: random source for the jitter.
    """

    def __init__(
        self,
        *,
        local_address: str,
        on_frame: Callable[[bytes], bool | None],
        max_frame_bytes: int,
        session: aiohttp.ClientSession | None = None,
        connect_timeout: float = 2.0,
        heartbeat: float = 5.0,
        reconnect_min: float = 0.1,
        reconnect_max: float = 5.0,
        max_connect_failures: int = 8,
        idle_timeout: float = 60.0,
        close_timeout: float = 1.0,
        queue_size: int = 256,
        path: str = "/cluster/ws",
        scheme: str = "http",
        max_inbound: int = 128,
        handshake_timeout: float = 5.0,
        log_interval: float = 60.0,
        rng: random.Random | None = None,
    ) -> None:
        self.local_address = local_address
        self.path = path
        self.scheme = scheme
        self.stats = TransportStats()
        self._on_frame = on_frame
        self._settings = LinkSettings(
            local_address=local_address,
            path=path,
            scheme=scheme,
            max_frame_bytes=max_frame_bytes,
            connect_timeout=connect_timeout,
            heartbeat=heartbeat,
            reconnect_min=reconnect_min,
            reconnect_max=reconnect_max,
            max_connect_failures=max_connect_failures,
            idle_timeout=idle_timeout,
            queue_size=queue_size,
        )
        self._session = session
        self._owns_session = session is None
        self._close_timeout = close_timeout
        self._max_inbound = max_inbound
        self._handshake_timeout = handshake_timeout
        self._refusals = RateLimitedLog(log, log_interval)
        self._rng = rng or random.Random()
        self._links: dict[str, OutboundLink] = {}
        self._tasks: dict[OutboundLink, asyncio.Task[None]] = {}
        self._inbound: set[web.WebSocketResponse] = set()
        self._started = False
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        self._started = True

    async def close(self) -> None:
        """Refuse new frames, let queued ones go out (up to close_timeout), then stop every
        link and close every socket, inbound and outbound."""
        self._closed = True
        try:
            async with asyncio.timeout(self._close_timeout):
                await asyncio.gather(*(link.queue.join() for link in self._links.values()))
        except TimeoutError:
            log.debug("closing with frames still queued")
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._close_inbound()
        if self._owns_session and self._session is not None:
            await self._session.close()

    def add_routes(self, app: web.Application) -> None:
        """Serve `GET {path}` on `app`, closing inbound sockets when the app shuts down."""
        app.router.add_get(self.path, self.handler)
        app.on_shutdown.append(self._on_shutdown)

    def link_states(self) -> dict[str, LinkState]:
        """The outbound links that currently exist, by destination address."""
        return {address: link.state for address, link in self._links.items()}

    # -- sending -----------------------------------------------------------------------------

    def send(self, address: str, data: bytes) -> None:
        """Queue `data` for `address` without waiting; drop and count it if it cannot go."""
        if not self._started:
            raise RuntimeError("WebSocketTransport.send() before start()")
        reason = self._refusal(address, data)
        if reason is not None:
            self.stats.dropped[reason] += 1
            return
        link = self._links.get(address) or self._open_link(address)
        if link.state is LinkState.BACKOFF:
            self.stats.dropped[DropReason.NOT_CONNECTED] += 1
            return
        try:
            link.queue.put_nowait(data)
        except asyncio.QueueFull:
            self.stats.dropped[DropReason.QUEUE_FULL] += 1

    def _refusal(self, address: str, data: bytes) -> DropReason | None:
        if self._closed:
            return DropReason.CLOSED
        if len(data) > self._settings.max_frame_bytes:
            return DropReason.OVERSIZED
        if address == self.local_address:
            return DropReason.SELF
        return None

    def _open_link(self, address: str) -> OutboundLink:
        assert self._session is not None
        link = OutboundLink(
            address,
            self._settings,
            session=self._session,
            stats=self.stats,
            read=self._read,
            rng=self._rng,
        )
        self._links[address] = link
        task = asyncio.create_task(link.run(), name=f"harombe-ws-link {address}")
        self._tasks[link] = task
        task.add_done_callback(lambda t: self._link_done(link, t))
        return link

    def _link_done(self, link: OutboundLink, task: asyncio.Task[None]) -> None:
        del self._tasks[link]
        if self._links.get(link.address) is link:
            del self._links[link.address]
        link.drain(DropReason.NOT_CONNECTED)
        if not task.cancelled() and task.exception() is not None:
            log.error("link to %s failed", link.address, exc_info=task.exception())

    # -- receiving ---------------------------------------------------------------------------

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        """`GET /cluster/ws`: accept a peer's connection and deliver its frames."""
        if len(self._inbound) >= self._max_inbound:
            self.stats.dropped[DropReason.TOO_MANY] += 1
            self._refusals.event("peer websockets refused (limits.max_peer_websockets)")
            raise web.HTTPServiceUnavailable(
                text='{"error": "too many peer connections"}',
                content_type="application/json",
                headers={"Retry-After": "1"},
            )
        ws = web.WebSocketResponse(
            max_msg_size=self._settings.max_frame_bytes,
            heartbeat=self._settings.heartbeat,
            compress=False,
        )
        await ws.prepare(request)
        if self._closed:
            await ws.close(code=WSCloseCode.GOING_AWAY)
            return ws
        peer = request.headers.get(PEER_HEADER)
        log.debug("peer connected: %s", peer or request.remote)
        self._inbound.add(ws)
        try:
            if await self._first_frame(ws):
                if peer:
                    self.redial(peer)
                await self._read(ws)
        finally:
            self._inbound.discard(ws)
        return ws

    async def _first_frame(self, ws: web.WebSocketResponse) -> bool:
        """Deliver frames until `on_frame` accepts one; False (closed) when none comes within
        handshake_timeout or the connection ends first."""
        heard = False
        try:
            async with asyncio.timeout(self._handshake_timeout):
                while True:
                    msg = await ws.receive()
                    if msg.type is WSMsgType.BINARY and self._receive(msg.data):
                        return True
                    heard = True
                    if msg.type is not WSMsgType.BINARY and not self._handle(msg):
                        return False
        except TimeoutError:
            reason = DropReason.UNVERIFIED if heard else DropReason.SILENT
            self.stats.dropped[reason] += 1
            what = "unverified" if heard else "silent"
            self._refusals.event(f"{what} peer websockets closed (limits.ws_handshake_timeout)")
            await ws.close(code=WSCloseCode.POLICY_VIOLATION)
            return False

    def redial(self, address: str) -> None:
        """`address` is reachable again (it just dialled us): end its link's backoff now, so a
        restarted peer is not cut off from us for the rest of a backoff period."""
        link = self._links.get(address)
        if link is not None and link.state is LinkState.BACKOFF:
            link.redial.set()

    async def _on_shutdown(self, _app: web.Application) -> None:
        await self._close_inbound()

    async def _close_inbound(self) -> None:
        sockets = list(self._inbound)
        await asyncio.gather(*(ws.close(code=WSCloseCode.GOING_AWAY) for ws in sockets))

    async def _read(self, ws: web.WebSocketResponse | aiohttp.ClientWebSocketResponse) -> None:
        """Deliver binary frames until the connection ends; count everything else."""
        while self._handle(await ws.receive()):
            pass

    def _handle(self, msg: aiohttp.WSMessage) -> bool:
        """Deliver or count one message; False when the connection has ended."""
        if msg.type is WSMsgType.BINARY:
            self._receive(msg.data)
        elif msg.type is WSMsgType.TEXT:
            self.stats.dropped[DropReason.TEXT_FRAME] += 1
        elif msg.type is WSMsgType.ERROR:
            if isinstance(msg.data, TimeoutError | aiohttp.ServerTimeoutError):
                self.stats.heartbeat_timeouts += 1
            else:
                self.stats.dropped[_error_reason(msg.data)] += 1
            return False
        else:
            return False
        return True

    def _receive(self, data: bytes) -> bool:
        """Count and deliver one frame; False when `on_frame` refused it (or raised)."""
        self.stats.received += 1
        self.stats.bytes_received += len(data)
        try:
            return self._on_frame(data) is not False
        except Exception:
            log.exception("on_frame raised; frame dropped")
            self.stats.dropped[DropReason.HANDLER_ERROR] += 1
            return False


def _error_reason(exc: object) -> DropReason:
    if isinstance(exc, aiohttp.WebSocketError) and exc.code == WSCloseCode.MESSAGE_TOO_BIG:
        return DropReason.OVERSIZED
    return DropReason.PROTOCOL_ERROR

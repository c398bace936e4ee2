"""One outbound link of the peer websocket transport: a bounded queue of frames for one peer,
and the task that dials it, writes the queue to it and redials with backoff; the link ends when
it sits idle or after too many failed dials. Also what the transport's links and sockets share:
the counters and the reasons a frame is dropped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum, StrEnum

import aiohttp

from harombe.cluster.backoff import backoff_delay

log = logging.getLogger(__name__)

PEER_HEADER = "X-Harombe-Peer"
"""Request header naming the connecting peer's address (informational, for logs)."""

_CONNECT_ERRORS = (aiohttp.ClientError, OSError, TimeoutError)
_SEND_ERRORS = (aiohttp.ClientError, ConnectionError)


class DropReason(StrEnum):
    QUEUE_FULL = "queue_full"
    """The destination's outbound queue was full (the peer is slower than we produce)."""
    NOT_CONNECTED = "not_connected"
    """The destination is unreachable and its connection is backing off."""
    OVERSIZED = "oversized"
    """Larger than `max_frame_bytes`; an inbound one also closes that connection."""
    TEXT_FRAME = "text_frame"
    """A text websocket message; peers only speak binary."""
    PROTOCOL_ERROR = "protocol_error"
    """A malformed websocket stream; the connection is closed."""
    SEND_FAILED = "send_failed"
    """The connection broke while this frame was being written."""
    SELF = "self"
    """Addressed to this node's own address."""
    CLOSED = "closed"
    """The transport was already closed."""
    HANDLER_ERROR = "handler_error"
    """`on_frame` raised (a bug in the receiver; logged)."""
    SILENT = "silent"
    """An inbound websocket sent no frame within `handshake_timeout`; it was closed."""
    UNVERIFIED = "unverified"
    """An inbound websocket sent frames within `handshake_timeout`, but none that `on_frame`
    accepted as a cluster member's (bad MAC, wrong label, replayed); it was closed."""
    TOO_MANY = "too_many"
    """An inbound websocket beyond `max_inbound` was refused with 503."""


@dataclass
class TransportStats:
    sent: int = 0
    received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    connects: int = 0
    connect_failures: int = 0
    heartbeat_timeouts: int = 0
    dropped: Counter[str] = field(default_factory=Counter)


class LinkState(Enum):
    CONNECTING = "connecting"
    """Dialling; frames queue up meanwhile."""
    CONNECTED = "connected"
    BACKOFF = "backoff"
    """Waiting to redial after a failure; frames are dropped meanwhile."""


@dataclass(frozen=True)
class LinkSettings:
    """The transport's settings an outbound link uses (see `WebSocketTransport`)."""

    local_address: str
    path: str
    scheme: str
    max_frame_bytes: int
    connect_timeout: float
    heartbeat: float
    reconnect_min: float
    reconnect_max: float
    max_connect_failures: int
    idle_timeout: float
    queue_size: int


Reader = Callable[[aiohttp.ClientWebSocketResponse], Awaitable[None]]
"""Delivers what the peer sends back on the link until the connection ends."""


class OutboundLink:
    """Frames queued for `address`; `run()` is the link's task. `read` delivers the frames the
    peer sends back on it."""

    def __init__(
        self,
        address: str,
        settings: LinkSettings,
        *,
        session: aiohttp.ClientSession,
        stats: TransportStats,
        read: Reader,
        rng: random.Random,
    ) -> None:
        self.address = address
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(settings.queue_size)
        self.state = LinkState.CONNECTING
        self.sent = 0
        self.redial = asyncio.Event()  # cuts a backoff short
        self._settings = settings
        self._session = session
        self._stats = stats
        self._read = read
        self._rng = rng

    def drain(self, reason: DropReason) -> None:
        """Drop and count every queued frame."""
        while not self.queue.empty():
            self.queue.get_nowait()
            self.queue.task_done()
            self._stats.dropped[reason] += 1

    async def run(self) -> None:
        """Dial, pump the queue, redial with backoff; end when idle or after too many failures."""
        cfg = self._settings
        failures = 0
        while True:
            self.state = LinkState.CONNECTING
            try:
                ws = await self._connect()
            except _CONNECT_ERRORS as exc:
                self._stats.connect_failures += 1
                failures += 1
                self.drain(DropReason.NOT_CONNECTED)
                if failures >= cfg.max_connect_failures:
                    log.debug("giving up on %s after %d failures: %r", self.address, failures, exc)
                    return
                self.state = LinkState.BACKOFF
                delay = backoff_delay(failures, cfg.reconnect_min, cfg.reconnect_max, self._rng)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.redial.wait(), delay)
                self.redial.clear()
                continue
            self._stats.connects += 1
            self.state = LinkState.CONNECTED
            sent_before = self.sent
            idle = await self._pump(ws)
            if idle:
                return
            # A connection that carried nothing counts as a failure, so a peer that accepts and
            # hangs up at once is redialled with backoff, not in a tight loop.
            failures = 0 if self.sent > sent_before else failures + 1
            if failures >= cfg.max_connect_failures:
                return

    async def _connect(self) -> aiohttp.ClientWebSocketResponse:
        cfg = self._settings
        async with asyncio.timeout(cfg.connect_timeout):
            return await self._session.ws_connect(
                f"{cfg.scheme}://{self.address}{cfg.path}",
                max_msg_size=cfg.max_frame_bytes,
                heartbeat=cfg.heartbeat,
                timeout=aiohttp.ClientWSTimeout(ws_close=cfg.connect_timeout),
                headers={PEER_HEADER: cfg.local_address},
            )

    async def _pump(self, ws: aiohttp.ClientWebSocketResponse) -> bool:
        """Write queued frames until the connection ends (False) or sits idle (True)."""
        stats = self._stats
        reader = asyncio.create_task(self._read(ws))
        getter: asyncio.Task[bytes] | None = None
        try:
            while True:
                getter = getter or asyncio.create_task(self.queue.get())
                done, _ = await asyncio.wait(
                    (getter, reader),
                    timeout=self._settings.idle_timeout,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if reader in done:
                    return False
                if not done:
                    return True
                data = getter.result()
                getter = None
                try:
                    await ws.send_bytes(data)
                except _SEND_ERRORS:
                    stats.dropped[DropReason.SEND_FAILED] += 1
                    return False
                finally:
                    self.queue.task_done()
                self.sent += 1
                stats.sent += 1
                stats.bytes_sent += len(data)
        finally:
            for task in (getter, reader):
                if task is not None:
                    task.cancel()
            await asyncio.gather(*(t for t in (getter, reader) if t), return_exceptions=True)
            if getter is not None and not getter.cancelled():
                self.queue.task_done()
                stats.dropped[DropReason.SEND_FAILED] += 1
            await ws.close()

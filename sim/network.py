"""An in-memory network for simulated peers, on the event loop's (virtual) clock.

Frames are the bytes the membership core already encoded; they travel unchanged. Each frame gets
its own latency (`base + exponential jitter`), may be lost (global, per-link and per-direction
rates), is dropped across partitions and cut links, and is checked against the transport's
maximum frame size. A *starved* peer handles incoming frames late; a *stalled* peer (a frozen
event loop) neither receives nor sends until the stall ends; a crashed peer's endpoint is gone,
and frames in flight to it vanish. Every frame is counted per peer and every drop by reason.
"""

from __future__ import annotations

import asyncio
import heapq
import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from harombe.cluster.runner import TimerHandle

Receiver = Callable[[str, bytes], None]
"""on_receive(source_address, frame)"""


CallAt = Callable[[float, Callable[[], None]], TimerHandle]
"""`call_at(when, callback)`, the shape of `loop.call_at` without arguments."""


@dataclass
class LinkProfile:
    """Latency and loss of a link; `jitter` is the mean of an exponential extra delay."""

    latency: float = 0.0005
    jitter: float = 0.0005
    loss: float = 0.0


@dataclass
class PeerTraffic:
    frames_sent: int = 0
    bytes_sent: int = 0
    frames_received: int = 0
    bytes_received: int = 0
    dropped: Counter[str] = field(default_factory=Counter)


class Endpoint:
    """One address's attachment to the network; replaced (not reused) when a peer restarts."""

    def __init__(self, network: Network, address: str, on_receive: Receiver) -> None:
        self.network = network
        self.address = address
        self.on_receive = on_receive
        self.starve_s = 0.0
        self.stalled_until = 0.0


class Network:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        rng: random.Random,
        *,
        link: LinkProfile | None = None,
        max_frame_bytes: int = 1 << 20,
        call_at: CallAt | None = None,
    ) -> None:
        """`call_at`: how the network schedules its wake-up (default: the loop's)."""
        self.loop = loop
        self._call_at: CallAt = call_at or loop.call_at
        self.rng = rng
        self.default_link = link or LinkProfile()
        self.max_frame_bytes = max_frame_bytes
        self.loss = 0.0
        self.traffic: dict[str, PeerTraffic] = {}
        self.dropped: Counter[str] = Counter()
        self._endpoints: dict[str, Endpoint] = {}
        self._links: dict[tuple[str, str], LinkProfile] = {}
        self._cut: set[tuple[str, str]] = set()
        self._isolated: set[str] = set()
        self._side: dict[str, int] = {}
        self._in_flight: list[tuple[float, int, Endpoint, str, bytes]] = []
        """Frames on the wire, a heap by arrival time (then send order): one loop timer for
        all of them instead of one per frame keeps the loop's own heap small."""
        self._sent = 0
        self._timer: TimerHandle | None = None

    # -- endpoints -------------------------------------------------------------------------

    def endpoint(self, address: str, on_receive: Receiver) -> Endpoint:
        if address in self._endpoints:
            raise ValueError(f"address {address!r} already attached")
        ep = Endpoint(self, address, on_receive)
        self._endpoints[address] = ep
        self.traffic.setdefault(address, PeerTraffic())
        return ep

    def remove(self, address: str) -> None:
        """Detach an address at once (a crash): nothing more is delivered to it or sent by it."""
        self._endpoints.pop(address, None)

    def attached(self, address: str) -> bool:
        return address in self._endpoints

    # -- faults ----------------------------------------------------------------------------

    def set_loss(self, rate: float) -> None:
        _check_rate(rate)
        self.loss = rate

    def set_link(self, src: str, dst: str, profile: LinkProfile, *, both: bool = True) -> None:
        _check_rate(profile.loss)
        self._links[(src, dst)] = profile
        if both:
            self._links[(dst, src)] = profile

    def cut(self, src: str, dst: str) -> None:
        """Drop everything from `src` to `dst` (an asymmetric link when only one way is cut)."""
        self._cut.add((src, dst))

    def restore(self, src: str, dst: str) -> None:
        self._cut.discard((src, dst))

    def isolate(self, address: str, on: bool = True) -> None:
        """Cut every link of `address`, both ways (or restore them)."""
        (self._isolated.add if on else self._isolated.discard)(address)

    def _blocked(self, src: str, dst: str) -> bool:
        return (
            (src, dst) in self._cut
            or src in self._isolated
            or dst in self._isolated
            or self._side.get(src, 0) != self._side.get(dst, 0)
        )

    def partition(self, groups: Iterable[Iterable[str]]) -> None:
        """Split the network: each group talks only within itself; unlisted addresses form
        one more group together."""
        self._side = {}
        for index, group in enumerate(groups, start=1):
            for address in group:
                self._side[address] = index

    def heal(self) -> None:
        self._side = {}
        self._cut.clear()
        self._isolated.clear()

    def starve(self, address: str, delay: float) -> None:
        """Handle the peer's incoming frames `delay` seconds late (a CPU-starved process)."""
        self._require(address).starve_s = delay

    def stall(self, address: str, duration: float) -> None:
        """Freeze the peer's event loop for `duration`: frames in and out wait until the end."""
        ep = self._require(address)
        ep.stalled_until = max(ep.stalled_until, self.loop.time() + duration)

    def reachable(self, src: str, dst: str) -> bool:
        """Whether a connection from `src` to `dst` could be made now (no loss applied)."""
        return (
            dst in self._endpoints and not self._blocked(src, dst) and not self._blocked(dst, src)
        )

    def latency(self, src: str, dst: str) -> float:
        """Draw one-way latency for a frame (or a stream's first byte) from `src` to `dst`."""
        link = self._links.get((src, dst), self.default_link)
        jitter = self.rng.expovariate(1.0 / link.jitter) if link.jitter > 0 else 0.0
        return link.latency + jitter

    # -- sending ---------------------------------------------------------------------------

    def send(self, src: str, dst: str, data: bytes) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"frames are bytes, got {type(data).__name__}")
        sender = self._endpoints.get(src)
        if sender is None:
            self._drop(src, "sender_down")
            return
        size = len(data)
        out = self.traffic[src]
        out.frames_sent += 1
        out.bytes_sent += size
        if size > self.max_frame_bytes:
            self._drop(src, "oversize")
            return
        if self._blocked(src, dst):
            self._drop(src, "partitioned")
            return
        link = self._links.get((src, dst), self.default_link)
        loss = max(self.loss, link.loss)
        if loss and self.rng.random() < loss:
            self._drop(src, "lost")
            return
        target = self._endpoints.get(dst)
        if target is None:
            self._drop(src, "no_route")
            return
        at = max(self.loop.time(), sender.stalled_until) + self.latency(src, dst)
        self._sent += 1
        heapq.heappush(self._in_flight, (at, self._sent, target, src, bytes(data)))
        self._wake_at(at)

    def _wake_at(self, at: float) -> None:
        timer = self._timer
        if timer is None or at < timer.when():
            if timer is not None:
                timer.cancel()
            self._timer = self._call_at(at, self._land)

    def _land(self) -> None:
        """Hand over every frame that has arrived by now, in arrival order."""
        self._timer = None
        in_flight = self._in_flight
        now = self.loop.time()
        while in_flight and in_flight[0][0] <= now:
            _, _, target, src, data = heapq.heappop(in_flight)
            self._arrive(target, src, data)
        if in_flight:
            self._wake_at(in_flight[0][0])

    def _arrive(self, target: Endpoint, src: str, data: bytes) -> None:
        if self._endpoints.get(target.address) is not target:
            self._drop(target.address, "crashed")
            return
        handle_at = max(target.stalled_until, self.loop.time() + target.starve_s)
        if handle_at > self.loop.time():
            self.loop.call_at(handle_at, self._deliver, target, src, data)
            return
        self._deliver(target, src, data)

    def _deliver(self, target: Endpoint, src: str, data: bytes) -> None:
        if self._endpoints.get(target.address) is not target:
            self._drop(target.address, "crashed")
            return
        if target.stalled_until > self.loop.time():
            self.loop.call_at(target.stalled_until, self._deliver, target, src, data)
            return
        inbound = self.traffic[target.address]
        inbound.frames_received += 1
        inbound.bytes_received += len(data)
        target.on_receive(src, data)

    def _drop(self, address: str, reason: str) -> None:
        self.dropped[reason] += 1
        traffic = self.traffic.get(address)
        if traffic is not None:
            traffic.dropped[reason] += 1

    def _require(self, address: str) -> Endpoint:
        ep = self._endpoints.get(address)
        if ep is None:
            raise KeyError(f"no peer at {address!r}")
        return ep

    def totals(self) -> PeerTraffic:
        total = PeerTraffic()
        for t in self.traffic.values():
            total.frames_sent += t.frames_sent
            total.bytes_sent += t.bytes_sent
            total.frames_received += t.frames_received
            total.bytes_received += t.bytes_received
        total.dropped = Counter(self.dropped)
        return total


def _check_rate(rate: float) -> None:
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"loss rate must be within [0, 1], got {rate}")

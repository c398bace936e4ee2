"""Finished requests: what one coordinator routed, kept as fixed-size tallies per time slot.

A `Tally` counts requests by node, tier, API and outcome, and keeps latency histograms with
fixed bounds, so tallies from several slots, or from several peers, add up exactly and
percentiles can be read from the sum (to within one bucket: about ±12 %). `RequestLog` keeps
one hour of slot tallies, a since-start tally and the most recent requests: its memory does not
grow with the request rate.
"""

from __future__ import annotations

import bisect
import math
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

OUTCOMES = ("ok", "client_error", "unavailable", "timeout", "error", "cancelled")
"""ok: a whole answer; client_error: 4xx (bad request, unknown model); unavailable: 503 (no
node free); timeout: 504 (deadline); error: any other failure; cancelled: the client left."""

ERROR_OUTCOMES = frozenset({"unavailable", "timeout", "error"})
"""Outcomes that count towards the error rate (the cluster's failures, not the client's)."""

LATENCY_BOUNDS: tuple[float, ...] = tuple(
    round(0.005 * 1.25**i, 6) for i in range(int(math.log(600 / 0.005, 1.25)) + 2)
)
"""Upper bounds (seconds) of the latency buckets: 5 ms × 1.25ⁱ up to past 10 minutes."""

WINDOWS = {"minute": 60.0, "hour": 3600.0}


def fallback_reason(text: str) -> str:
    """A short, bounded category for a fallback's free-text reason (a metric label)."""
    lowered = text.lower()
    for needle, reason in (
        ("no first token", "first_token_timeout"),
        ("no progress", "stalled"),
        ("ended before", "ended_early"),
        ("not found", "model_missing"),
        ("connect", "unreachable"),
    ):
        if needle in lowered:
            return reason
    return "error"


@dataclass(frozen=True, slots=True)
class FinishedRequest:
    """One request this peer coordinated, as it ended."""

    at: float  # wall-clock time (time.time()) it finished
    api: str  # "ollama" | "openai" | "cluster"
    outcome: str  # one of OUTCOMES
    node: str | None  # the node that served it last; None if none was reached
    tier: int | None
    classified_tier: int | None
    model: str | None
    fallbacks: tuple[str, ...]  # fallback_reason() of each switch of node
    ttft_s: float | None
    duration_s: float
    tokens_in: int = 0
    tokens_out: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _histogram() -> list[int]:
    return [0] * (len(LATENCY_BOUNDS) + 1)


def _bucket(value: float) -> int:
    return bisect.bisect_left(LATENCY_BOUNDS, value)


def percentile(counts: list[int], q: float) -> float | None:
    """The q-quantile (0..1) of a histogram over LATENCY_BOUNDS, interpolated within its
    bucket; None when empty."""
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, count in enumerate(counts):
        if count and seen + count >= rank:
            low = LATENCY_BOUNDS[i - 1] if i > 0 else 0.0
            high = LATENCY_BOUNDS[i] if i < len(LATENCY_BOUNDS) else LATENCY_BOUNDS[-1]
            return round(low + (high - low) * max(rank - seen, 0) / count, 6)
        seen += count
    return LATENCY_BOUNDS[-1]


@dataclass
class Tally:
    """Counts and latency histograms of a set of finished requests; `+=` adds another."""

    requests: int = 0
    by_node: Counter[str] = field(default_factory=Counter)
    by_tier: Counter[str] = field(default_factory=Counter)
    by_api: Counter[str] = field(default_factory=Counter)
    by_outcome: Counter[str] = field(default_factory=Counter)
    fallback_reasons: Counter[str] = field(default_factory=Counter)
    with_fallback: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    duration: list[int] = field(default_factory=_histogram)
    ttft: list[int] = field(default_factory=_histogram)

    def add(self, r: FinishedRequest) -> None:
        self.requests += 1
        self.by_node[r.node or "none"] += 1
        self.by_tier["none" if r.tier is None else str(r.tier)] += 1
        self.by_api[r.api] += 1
        self.by_outcome[r.outcome] += 1
        self.fallback_reasons.update(r.fallbacks)
        self.with_fallback += bool(r.fallbacks)
        self.tokens_in += r.tokens_in
        self.tokens_out += r.tokens_out
        self.duration[_bucket(r.duration_s)] += 1
        if r.ttft_s is not None:
            self.ttft[_bucket(r.ttft_s)] += 1

    def __iadd__(self, other: Tally) -> Tally:
        self.requests += other.requests
        for name in ("by_node", "by_tier", "by_api", "by_outcome", "fallback_reasons"):
            getattr(self, name).update(getattr(other, name))
        self.with_fallback += other.with_fallback
        self.tokens_in += other.tokens_in
        self.tokens_out += other.tokens_out
        self.duration = [a + b for a, b in zip(self.duration, other.duration, strict=True)]
        self.ttft = [a + b for a, b in zip(self.ttft, other.ttft, strict=True)]
        return self

    def as_dict(self) -> dict[str, Any]:
        errors = sum(self.by_outcome[o] for o in ERROR_OUTCOMES)
        n = self.requests
        return {
            "requests": n,
            "by_node": dict(self.by_node),
            "by_tier": dict(self.by_tier),
            "by_api": dict(self.by_api),
            "by_outcome": dict(self.by_outcome),
            "errors": errors,
            "error_rate": round(errors / n, 4) if n else 0.0,
            "fallbacks": self.with_fallback,
            "fallback_rate": round(self.with_fallback / n, 4) if n else 0.0,
            "fallback_reasons": dict(self.fallback_reasons),
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "latency_s": _percentiles(self.duration),
            "ttft_s": _percentiles(self.ttft),
            "histogram": {
                "bounds_s": list(LATENCY_BOUNDS),
                "duration": self.duration,
                "ttft": self.ttft,
            },
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Tally:
        """A tally from another peer's `as_dict()`; ValueError if it is not one (or its
        histogram bounds differ from ours, as a peer of another version might)."""
        try:
            hist = d["histogram"]
            if list(hist["bounds_s"]) != list(LATENCY_BOUNDS):
                raise ValueError("histogram bounds differ")
            tally = cls(
                requests=_int(d["requests"]),
                by_node=_counter(d["by_node"]),
                by_tier=_counter(d["by_tier"]),
                by_api=_counter(d["by_api"]),
                by_outcome=_counter(d["by_outcome"]),
                fallback_reasons=_counter(d["fallback_reasons"]),
                with_fallback=_int(d["fallbacks"]),
                tokens_in=_int(d["tokens_in"]),
                tokens_out=_int(d["tokens_out"]),
                duration=[_int(v) for v in hist["duration"]],
                ttft=[_int(v) for v in hist["ttft"]],
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a request tally: {exc}") from None
        if len(tally.duration) != len(LATENCY_BOUNDS) + 1 or len(tally.ttft) != len(tally.duration):
            raise ValueError("histogram has the wrong number of buckets")
        return tally


def _percentiles(counts: list[int]) -> dict[str, float | None]:
    return {f"p{q}": percentile(counts, q / 100) for q in (50, 90, 99)}


def _int(x: Any) -> int:
    if type(x) is not int or x < 0:
        raise TypeError(f"{x!r} is not a count")
    return x


def _counter(x: Any) -> Counter[str]:
    if not isinstance(x, dict):
        raise TypeError("counts must be a mapping")
    return Counter({str(k): _int(v) for k, v in x.items()})


class RequestLog:
    """This peer's finished requests: slot tallies for the last hour, a since-start tally,
    the most recent requests; listeners hear of each one (they must not block)."""

    def __init__(
        self,
        *,
        slot_seconds: float = 10.0,
        recent: int = 100,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slot_seconds = slot_seconds
        self.total = Tally()
        self.recent: deque[FinishedRequest] = deque(maxlen=recent)
        self.started = clock()
        self._clock = clock
        self._slots: deque[tuple[int, Tally]] = deque()
        self._keep = math.ceil(WINDOWS["hour"] / slot_seconds) + 1
        self.listeners: list[Callable[[FinishedRequest], None]] = []

    def finished(self, r: FinishedRequest) -> None:
        slot = int(self._clock() // self.slot_seconds)
        if not self._slots or self._slots[-1][0] != slot:
            self._slots.append((slot, Tally()))
            while self._slots[0][0] <= slot - self._keep:
                self._slots.popleft()
        self._slots[-1][1].add(r)
        self.total.add(r)
        self.recent.appendleft(r)
        for listener in self.listeners:
            listener(r)

    def window(self, seconds: float) -> Tally:
        """Requests of the slots that overlap the last `seconds`."""
        first = int((self._clock() - seconds) // self.slot_seconds)
        tally = Tally()
        for slot, part in self._slots:
            if slot >= first:
                tally += part
        return tally

    def windows(self) -> dict[str, Tally]:
        """ "minute", "hour" and "total" (since start)."""
        return {**{name: self.window(s) for name, s in WINDOWS.items()}, "total": self.total}

    def uptime(self) -> float:
        return self._clock() - self.started


def merge_windows(parts: Iterable[dict[str, Any]]) -> dict[str, Tally]:
    """Add up several peers' `windows` (as their JSON dicts); ValueError on a malformed one."""
    merged = {name: Tally() for name in (*WINDOWS, "total")}
    for windows in parts:
        for name, tally in merged.items():
            tally += Tally.from_dict(windows[name])
    return merged

"""How fast each model answers on this node, measured on the real traffic.

`MeasuredBackend` wraps any backend's chat stream and keeps, per model, an exponentially
weighted moving average of the time to first token (seconds) and of the decode speed
(tokens/s after the first token), plus the number of chats in flight. The balancer and the
gossiped node record read them; nothing here knows about either.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from harombe.inference.types import (
    Backend,
    BackendHealth,
    ChatChunk,
    ChatRequest,
    EmbedRequest,
    EmbedResult,
    LoadedModel,
    ModelInfo,
)

DEFAULT_ALPHA = 0.2
"""Weight of the newest sample: 0.2 follows a change within ~10 requests yet rides out one
slow request; higher reacts faster and jitters more."""


@dataclass
class Ewma:
    alpha: float = DEFAULT_ALPHA
    value: float | None = None

    def update(self, sample: float) -> float:
        self.value = (
            sample if self.value is None else self.value + self.alpha * (sample - self.value)
        )
        return self.value


@dataclass
class BackendStats:
    alpha: float = DEFAULT_ALPHA
    ttft: dict[str, Ewma] = field(default_factory=dict)
    tps: dict[str, Ewma] = field(default_factory=dict)

    def record_ttft(self, model: str, seconds: float) -> None:
        self.ttft.setdefault(model, Ewma(self.alpha)).update(seconds)

    def record_tps(self, model: str, tokens_per_second: float) -> None:
        self.tps.setdefault(model, Ewma(self.alpha)).update(tokens_per_second)

    def snapshot(self) -> tuple[dict[str, float], dict[str, float]]:
        """(time to first token in s, decode tokens/s), each by model name."""
        return (
            {m: e.value for m, e in self.ttft.items() if e.value is not None},
            {m: e.value for m, e in self.tps.items() if e.value is not None},
        )


def decode_rate(tokens: int, first_token_at: float, done_at: float) -> float | None:
    """Tokens/s after the first token; None when there is nothing to measure."""
    elapsed = done_at - first_token_at
    if tokens < 2 or elapsed <= 0:
        return None
    return (tokens - 1) / elapsed


class MeasuredBackend:
    """A Backend that delegates to `inner` and records its speed; `active` counts open chats."""

    def __init__(
        self,
        inner: Backend,
        *,
        alpha: float = DEFAULT_ALPHA,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.stats = BackendStats(alpha)
        self._clock = clock
        self._active = 0

    @property
    def active(self) -> int:
        return self._active

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        self._active += 1
        started = self._clock()
        first_token_at: float | None = None
        pieces = 0
        stream = self.inner.chat(request)
        try:
            async for chunk in stream:
                model = chunk.model or request.model or ""
                if first_token_at is None and (chunk.content or chunk.tool_calls):
                    first_token_at = self._clock()
                    self.stats.record_ttft(model, first_token_at - started)
                pieces += bool(chunk.content)
                if chunk.done and first_token_at is not None:
                    tokens = chunk.completion_tokens or pieces
                    rate = decode_rate(tokens, first_token_at, self._clock())
                    if rate is not None:
                        self.stats.record_tps(model, rate)
                yield chunk
        finally:
            self._active -= 1
            close = getattr(stream, "aclose", None)
            if close is not None:
                await close()

    async def embed(self, request: EmbedRequest) -> EmbedResult:
        return await self.inner.embed(request)

    async def list_models(self) -> list[ModelInfo]:
        return await self.inner.list_models()

    async def loaded_models(self) -> list[LoadedModel]:
        return await self.inner.loaded_models()

    async def health(self) -> BackendHealth:
        return await self.inner.health()

    async def aclose(self) -> None:
        await self.inner.aclose()

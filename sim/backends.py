"""Simulated inference backends on the event loop's (virtual) clock.

A `SimBackend` implements the `Backend` protocol like a local Ollama would, from a hardware
profile: a fixed number of concurrent slots (requests beyond them queue), a time to first token,
a steady token rate, and an optional rate of failures before the first token. `kill()` is the
machine dying: every stream in progress fails at once, as a reset connection would.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from harombe.inference.types import (
    BackendError,
    BackendHealth,
    ChatChunk,
    ChatRequest,
    LoadedModel,
    ModelInfo,
    ModelNotFoundError,
)


@dataclass(frozen=True)
class HardwareProfile:
    name: str
    model: str
    tier: int
    ttft: float  # seconds to first token on an idle slot
    tps: float  # tokens per second per stream
    capacity: int  # concurrent streams
    gpu: str
    vram_gb: float
    error_rate: float = 0.0  # probability that a request fails before its first token


MAC_MINI_3B = HardwareProfile("mac-mini", "llama3.2:3b", 0, 0.3, 40.0, 2, "Apple M2", 16)
RTX4090_14B = HardwareProfile("rtx4090", "qwen2.5:14b", 1, 0.5, 60.0, 4, "RTX 4090", 24)
DGX_72B = HardwareProfile("dgx", "qwen2.5:72b", 2, 1.0, 25.0, 8, "8x H100", 640)
PROFILES = (MAC_MINI_3B, RTX4090_14B, DGX_72B)

TOKENS_PER_CHUNK = 8
"""Tokens per streamed chunk: coarser than a real server (one per token) to keep the sim fast;
timing is unchanged because each chunk waits for all its tokens."""


@dataclass
class AnswerLength:
    """How many tokens an answer has: `max_tokens` if the request sets one, else uniform."""

    low: int = 20
    high: int = 200

    def draw(self, request: ChatRequest, rng: random.Random) -> int:
        if request.options.max_tokens:
            return request.options.max_tokens
        return rng.randint(self.low, self.high)


class SimBackend:
    kind = "sim"

    def __init__(
        self,
        profile: HardwareProfile,
        rng: random.Random,
        *,
        length: AnswerLength | None = None,
        on_load_change: Callable[[], None] | None = None,
    ) -> None:
        self.profile = profile
        self.rng = rng
        self.length = length or AnswerLength()
        self.on_load_change = on_load_change
        self.active = 0
        self.queued = 0
        self.served = 0
        self.failed = 0
        self.alive = True
        self._slots = asyncio.Semaphore(profile.capacity)
        # A dict, not a set: wake-up order must not depend on object addresses.
        self._waiters: dict[asyncio.Future[None], None] = {}

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        if not self.alive:
            raise BackendError("backend is down", status=503)
        if request.model not in (None, self.profile.model):
            raise ModelNotFoundError(request.model)
        self.queued += 1
        self._load_changed()
        try:
            await self._slots.acquire()
        finally:
            self.queued -= 1
        self.active += 1
        self._load_changed()
        try:
            async for chunk in self._generate(request):
                yield chunk
            self.served += 1
        except BackendError:
            self.failed += 1
            raise
        finally:
            self.active -= 1
            self._slots.release()
            self._load_changed()

    async def _generate(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        await self._sleep(self.profile.ttft)
        if self.profile.error_rate and self.rng.random() < self.profile.error_rate:
            raise BackendError(f"{self.profile.name}: simulated backend error", status=500)
        total = self.length.draw(request, self.rng)
        sent = 0
        while sent < total:
            n = min(TOKENS_PER_CHUNK, total - sent)
            await self._sleep(n / self.profile.tps)
            sent += n
            yield ChatChunk(content="tok " * n, model=self.profile.model)
        yield ChatChunk(
            done=True,
            done_reason="stop",
            model=self.profile.model,
            prompt_tokens=sum(len(m.content) for m in request.messages) // 4,
            completion_tokens=total,
        )

    async def _sleep(self, seconds: float) -> None:
        """Sleep that `kill()` interrupts with a BackendError."""
        if not self.alive:
            raise BackendError(f"{self.profile.name}: backend crashed", status=502)
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        handle = loop.call_later(seconds, _resolve, waiter)
        self._waiters[waiter] = None
        try:
            await waiter
        finally:
            handle.cancel()
            self._waiters.pop(waiter, None)

    def kill(self) -> None:
        self.alive = False
        for waiter in list(self._waiters):
            if not waiter.done():
                waiter.set_exception(BackendError(f"{self.profile.name}: backend crashed"))

    def _load_changed(self) -> None:
        if self.on_load_change is not None:
            self.on_load_change()

    async def list_models(self) -> list[ModelInfo]:
        size = f"{self.profile.model.rsplit(':', 1)[-1].upper()}"
        return [ModelInfo(name=self.profile.model, parameter_size=size, quantization="Q4_K_M")]

    async def loaded_models(self) -> list[LoadedModel]:
        return [LoadedModel(name=self.profile.model)]

    async def health(self) -> BackendHealth:
        return BackendHealth(ok=self.alive, detail="" if self.alive else "crashed")

    async def aclose(self) -> None:
        self.kill()


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)

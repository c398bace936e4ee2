"""A scripted in-process Backend and a real harombe app around it, for the client API tests.

The backend answers by the last user message, deterministically:
  anything      → "Hello from harombe" in three chunks, then done
  (tools given) → one call of the first tool, finish reason "tool_calls"
  "break"       → one chunk, then a BackendError mid-answer
  "busy"        → BackendError 503 with retry_after before the first chunk
  "endless"     → chunks until the consumer closes the stream (sets `closed`)
and raises ModelNotFoundError for any model but its own (None: the default model). It embeds
each input as [its length, its index, 0.5], counting one token per character.
The fixtures live in `api_fixtures.py`, which test modules load with `pytest_plugins`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from harombe.inference.types import (
    Backend,
    BackendError,
    BackendHealth,
    ChatChunk,
    ChatRequest,
    EmbedRequest,
    EmbedResult,
    LoadedModel,
    ModelInfo,
    ModelNotFoundError,
    ToolCall,
)
from harombe.routing.config import RoutingConfig
from harombe.routing.dispatch import Dispatcher
from harombe.routing.route import RoutedStream, RouteOptions
from harombe.routing.view import Candidate, StaticView

NODE = "node-a"
TIER = 1
MODEL = "scripted:1b"
REPLY = ["Hello", " from", " harombe"]
TOOL_ARGS = {"city": "Paris", "unit": "celsius"}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        },
    },
}


class Busy(BackendError):
    def __init__(self, retry_after: float) -> None:
        super().__init__("every node is busy", status=503, retryable=False)
        self.retry_after = retry_after


class ScriptedBackend:
    kind = "scripted"

    def __init__(self) -> None:
        self.requests: list[ChatRequest] = []
        self.embedded: list[EmbedRequest] = []
        self.closed = asyncio.Event()

    async def embed(self, request: EmbedRequest) -> EmbedResult:
        self.embedded.append(request)
        if request.model not in (None, MODEL):
            raise ModelNotFoundError(request.model)
        return EmbedResult(
            embeddings=[[float(len(x)), float(i), 0.5] for i, x in enumerate(request.inputs)],
            model=MODEL,
            prompt_tokens=sum(len(x) for x in request.inputs),
        )

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        self.requests.append(request)
        if request.model not in (None, MODEL):
            raise ModelNotFoundError(request.model)
        prompt = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        if prompt == "busy":
            raise Busy(retry_after=7)
        if prompt == "break":
            yield ChatChunk(content="partial", model=MODEL)
            raise BackendError("backend died mid-answer")
        if prompt == "endless":
            try:
                while True:
                    yield ChatChunk(content="tick ", model=MODEL)
            finally:
                self.closed.set()
        if request.tools:
            name = request.tools[0]["function"]["name"]
            call = ToolCall(name=name, arguments=TOOL_ARGS, id="call_1")
            yield ChatChunk(tool_calls=[call], model=MODEL)
            yield ChatChunk(
                done=True,
                done_reason="tool_calls",
                model=MODEL,
                prompt_tokens=9,
                completion_tokens=5,
            )
            return
        for word in REPLY:
            yield ChatChunk(content=word, model=MODEL)
        yield ChatChunk(
            done=True,
            done_reason="stop",
            model=MODEL,
            prompt_tokens=len(request.messages),
            completion_tokens=len(REPLY),
        )

    async def list_models(self) -> list[ModelInfo]:
        return [
            ModelInfo(
                name=MODEL,
                size=1_234_567,
                family="llama",
                parameter_size="1B",
                quantization="Q4_K_M",
                digest="sha256:" + "ab" * 32,
                modified_at="2025-01-02T03:04:05Z",
                context_length=8192,
                capabilities=["completion", "tools"],
            )
        ]

    async def loaded_models(self) -> list[LoadedModel]:
        return [
            LoadedModel(
                name=MODEL, size=1_234_567, size_vram=1_000_000, expires_at="2030-01-02T03:04:05Z"
            )
        ]

    async def health(self) -> BackendHealth:
        return BackendHealth(ok=True)

    async def aclose(self) -> None:
        return None


def one_node(node: str, tier: int, backend: Backend, models: list[str]) -> dict[str, Any]:
    """A Dispatcher's arguments for a one-node cluster: `backend` serves `models` and every
    request."""
    local = Candidate(node, "127.0.0.1:0", tier=tier, models=models, loaded=models, is_local=True)
    return {
        "node_name": node,
        "local_backend": backend,
        "view": StaticView([local]),
        "connect": lambda candidate: backend,
    }


def local_dispatcher(node: str, tier: int, backend: Backend, models: list[str]) -> Dispatcher:
    """A one-node cluster: every request is served by `backend`, which serves `models`."""
    return Dispatcher(**one_node(node, tier, backend, models))


class RecordingCoordinator(Dispatcher):
    """A one-node dispatcher over the scripted backend, remembering the route options given."""

    def __init__(self, backend: ScriptedBackend) -> None:
        super().__init__(
            **one_node(NODE, TIER, backend, [MODEL]),
            config=RoutingConfig(breaker_failure_threshold=1_000),  # the tests fail it on purpose
        )
        self.options: list[RouteOptions] = []

    def open(self, request: ChatRequest, options: RouteOptions) -> RoutedStream:  # type: ignore[override]
        self.options.append(options)
        return super().open(request, options)

"""The one internal request/response shape every layer speaks.

The HTTP APIs parse Ollama or OpenAI requests into a `ChatRequest`; routing and dispatch pass it
on untouched; every `Backend` streams `ChatChunk`s back, which the APIs render in their own wire
format. Plain dataclasses: pydantic lives at the edges (config, wire, HTTP), not in here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any]
    id: str | None = None


@dataclass
class Message:
    role: str  # "system" | "user" | "assistant" | "tool"
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None


@dataclass
class GenerationOptions:
    """Sampling options common to Ollama and OpenAI; None means "backend default"."""

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: list[str] | None = None


@dataclass
class ChatRequest:
    messages: list[Message]
    model: str | None = None  # a real model name, a virtual one ("auto", "tier-1"), or None
    tools: list[dict[str, Any]] | None = (
        None  # function schemas: {"type": "function", "function": {...}}
    )
    options: GenerationOptions = field(default_factory=GenerationOptions)
    stream: bool = True
    format: str | dict[str, Any] | None = None  # None, "json" (any JSON), or a JSON schema
    tool_choice: str | None = None  # None (backend default), "auto", "none", "required"


@dataclass
class ChatChunk:
    """One piece of a streamed answer; the last one has done=True and the token counts."""

    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    done: bool = False
    done_reason: str | None = None  # "stop" | "length" | "tool_calls"
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass
class ModelInfo:
    name: str
    size: int = 0  # bytes on disk
    family: str | None = None
    parameter_size: str | None = None  # "3B", "14B"
    quantization: str | None = None  # "Q4_K_M"
    digest: str | None = None
    modified_at: str | None = None  # RFC 3339
    context_length: int | None = None  # tokens the server's context window holds
    capabilities: list[str] = field(default_factory=list)  # "completion", "tools", "embedding"


@dataclass
class EmbedRequest:
    """Texts (or token-id arrays) to embed with one model, one vector per input."""

    inputs: list[str] | list[list[int]]
    model: str | None = None
    truncate: bool = True  # cut inputs longer than the context window instead of failing
    dimensions: int | None = None  # shorten each vector, for models trained to allow it


@dataclass
class EmbedResult:
    embeddings: list[list[float]]
    model: str | None = None
    prompt_tokens: int | None = None


@dataclass
class LoadedModel:
    name: str
    size: int = 0
    size_vram: int = 0
    expires_at: str | None = None  # RFC 3339


@dataclass
class BackendHealth:
    ok: bool
    detail: str = ""


class BackendError(Exception):
    """A backend failed. `retryable` says whether another node could still succeed."""

    def __init__(self, message: str, *, status: int = 502, retryable: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class RequestRejected(BackendError):
    """The backend refused the request itself (HTTP 400, 413, 422: invalid options and such):
    the client's fault, not the node's. Never retried elsewhere, never counted against a
    breaker; the message is safe to show the client (it names no backend address)."""

    CLIENT_STATUSES = (400, 413, 422)

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message, status=status, retryable=False)


class ModelNotFoundError(BackendError):
    def __init__(self, model: str) -> None:
        super().__init__(f"model {model!r} not found", status=404, retryable=False)
        self.model = model


@runtime_checkable
class Backend(Protocol):
    """A local inference server (Ollama, OpenAI-compatible, embedded llama.cpp) or a remote peer."""

    kind: str  # "ollama" | "openai" | "llamacpp" | "none" | "peer"

    def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """Stream the answer. Raises BackendError (or ModelNotFoundError) on failure."""
        ...

    async def embed(self, request: EmbedRequest) -> EmbedResult:
        """One vector per input. Raises BackendError (or ModelNotFoundError) on failure."""
        ...

    async def list_models(self) -> list[ModelInfo]: ...

    async def loaded_models(self) -> list[LoadedModel]: ...

    async def health(self) -> BackendHealth: ...

    async def aclose(self) -> None: ...

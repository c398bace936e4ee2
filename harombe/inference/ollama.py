"""Backend for a local Ollama server, through the official `ollama.AsyncClient`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing, contextmanager
from datetime import datetime
from typing import Any

import httpx
import ollama
from pydantic import ValidationError

from harombe.inference.types import (
    BackendError,
    BackendHealth,
    ChatChunk,
    ChatRequest,
    EmbedRequest,
    EmbedResult,
    GenerationOptions,
    LoadedModel,
    Message,
    ModelInfo,
    ModelNotFoundError,
    RequestRejected,
    ToolCall,
)

DEFAULT_TIMEOUT = 300.0


class OllamaBackend:
    """`timeout`: seconds without progress (connect, or between reads) before a call is dropped."""

    kind = "ollama"

    def __init__(
        self,
        base_url: str,
        *,
        default_model: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        api_key: str | None = None,
    ) -> None:
        """`api_key`: a bearer token, for an Ollama behind an authenticating proxy."""
        self.base_url = base_url.rstrip("/")
        self.default_model = default_model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
        self._client = ollama.AsyncClient(host=self.base_url, timeout=timeout, headers=headers)
        self._descriptions: dict[tuple[str, str | None], tuple[int | None, list[str]]] = {}

    def _model(self, named: str | None) -> str:
        model = named or self.default_model
        if not model:
            raise BackendError(
                "no model named: the request names none and backend.model is not set",
                status=400,
                retryable=False,
            )
        return model

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        model = self._model(request.model)
        with self._translate_errors(model):
            stream = await self._client.chat(
                model=model,
                messages=[wire_message(m) for m in request.messages],
                tools=request.tools,
                stream=True,
                format=request.format,
                options=wire_options(request.options),
            )
            calls: list[ToolCall] = []
            async with aclosing(stream):
                async for part in stream:
                    calls += _tool_calls(part.message)
                    if part.done:
                        yield _final_chunk(part, calls)
                        return
                    if part.message.content:
                        yield ChatChunk(content=part.message.content, model=part.model)
        raise BackendError(f"{self.base_url}: the stream ended before the answer was done")

    async def embed(self, request: EmbedRequest) -> EmbedResult:
        model = self._model(request.model)
        if request.inputs and not isinstance(request.inputs[0], str):
            raise RequestRejected("ollama embeds text only, not token arrays")
        with self._translate_errors(model):
            result = await self._client.embed(
                model=model,
                input=list(request.inputs),  # type: ignore[arg-type]
                truncate=request.truncate,
                dimensions=request.dimensions,
            )
        return EmbedResult(
            embeddings=[list(v) for v in result.embeddings],
            model=result.model or model,
            prompt_tokens=result.prompt_eval_count,
        )

    async def list_models(self) -> list[ModelInfo]:
        with self._translate_errors(None):
            listing = await self._client.list()
        models = [
            ModelInfo(
                name=m.model or "",
                size=int(m.size or 0),
                family=m.details.family if m.details else None,
                parameter_size=m.details.parameter_size if m.details else None,
                quantization=m.details.quantization_level if m.details else None,
                digest=m.digest,
                modified_at=_rfc3339(m.modified_at),
            )
            for m in listing.models
        ]
        for info in models:
            info.context_length, info.capabilities = await self._described(info)
        return models

    async def _described(self, info: ModelInfo) -> tuple[int | None, list[str]]:
        """Context length and capabilities from `/api/show`, asked once per model digest."""
        key = (info.name, info.digest)
        if key not in self._descriptions:
            try:
                with self._translate_errors(info.name):
                    shown = await self._client.show(info.name)
            except BackendError:  # gone since the listing, or an older Ollama: not known
                return None, []
            self._descriptions[key] = (_context_length(shown), list(shown.capabilities or []))
        return self._descriptions[key]

    async def loaded_models(self) -> list[LoadedModel]:
        with self._translate_errors(None):
            running = await self._client.ps()
        return [
            LoadedModel(
                name=m.model or m.name or "",
                size=int(m.size or 0),
                size_vram=int(m.size_vram or 0),
                expires_at=_rfc3339(m.expires_at),
            )
            for m in running.models
        ]

    async def health(self) -> BackendHealth:
        try:
            models = await self.list_models()
        except BackendError as exc:
            return BackendHealth(ok=False, detail=str(exc))
        return BackendHealth(ok=True, detail=f"ollama: {len(models)} models")

    async def aclose(self) -> None:
        await self._client.close()

    @contextmanager
    def _translate_errors(self, model: str | None) -> Iterator[None]:
        url = self.base_url
        try:
            yield
        except ollama.ResponseError as exc:
            if exc.status_code == 404 and model:
                raise ModelNotFoundError(model) from exc
            if exc.status_code == -1:  # an `error` line inside a 200 stream
                raise BackendError(f"{url}: ollama failed mid-answer: {exc.error}") from exc
            status = exc.status_code
            if status in RequestRejected.CLIENT_STATUSES:
                message = f"the backend rejected the request: {exc.error}"
                raise RequestRejected(message, status=status) from exc
            raise BackendError(
                f"{url}: HTTP {status}: {exc.error}",
                status=status,
                retryable=status >= 500 or status in (408, 429),
            ) from exc
        except (ConnectionError, httpx.ConnectError) as exc:
            raise BackendError(f"{url}: cannot connect to ollama") from exc
        except httpx.TimeoutException as exc:
            raise BackendError(f"{url}: ollama did not answer in time ({exc!r})") from exc
        except httpx.TransportError as exc:
            raise BackendError(f"{url}: connection to ollama failed ({exc!r})") from exc
        except (ValueError, ValidationError) as exc:  # a line that is not JSON or not a response
            raise BackendError(f"{url}: malformed answer from ollama: {exc}") from exc


def wire_message(message: Message) -> dict[str, Any]:
    wire: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        wire["tool_calls"] = [
            {"function": {"name": c.name, "arguments": c.arguments}} for c in message.tool_calls
        ]
    if message.role == "tool" and message.name:
        wire["tool_name"] = message.name
    return wire


def _tool_calls(message: ollama.Message) -> list[ToolCall]:
    return [
        ToolCall(name=c.function.name, arguments=dict(c.function.arguments))
        for c in message.tool_calls or []
    ]


def _final_chunk(part: ollama.ChatResponse, calls: list[ToolCall]) -> ChatChunk:
    """Tool calls travel with the final chunk, as with every backend."""
    reason = part.done_reason or "stop"
    return ChatChunk(
        content=part.message.content or "",
        tool_calls=calls,
        done=True,
        done_reason="tool_calls" if calls and reason == "stop" else reason,
        model=part.model,
        prompt_tokens=part.prompt_eval_count,
        completion_tokens=part.eval_count,
    )


def wire_options(options: GenerationOptions) -> dict[str, Any]:
    values = {
        "num_predict": options.max_tokens,
        "temperature": options.temperature,
        "top_p": options.top_p,
        "top_k": options.top_k,
        "seed": options.seed,
        "stop": options.stop,
    }
    return {k: v for k, v in values.items() if v is not None}


def _context_length(shown: ollama.ShowResponse) -> int | None:
    """`<architecture>.context_length` from the model's GGUF metadata, as Ollama shows it."""
    info = shown.modelinfo or {}
    value = info.get(f"{info.get('general.architecture')}.context_length")
    return value if isinstance(value, int) else None


def _rfc3339(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None

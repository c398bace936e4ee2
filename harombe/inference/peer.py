"""Backend for another harombe peer, over its Ollama API.

Every request carries `X-Harombe-Hop: <this node>`, so the peer serves it with its own backend
and never routes it again (no loops), and, with a cluster key, `X-Harombe-Auth` (see
`harombe.api.peer_auth`). The answer is the peer's Ollama NDJSON stream: one JSON object per
line, an `{"error": ...}` line if the peer fails after the stream started.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import aiohttp

from harombe.inference.ollama import wire_message as ollama_message
from harombe.inference.ollama import wire_options as ollama_options
from harombe.inference.types import (
    BackendError,
    BackendHealth,
    ChatChunk,
    ChatRequest,
    LoadedModel,
    Message,
    ModelInfo,
    ModelNotFoundError,
    ToolCall,
)
from harombe.inference.wire import error_text, parse_object

HOP_HEADER = "X-Harombe-Hop"
DEFAULT_TIMEOUT = 300.0
DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024


class RequestSigner(Protocol):
    def headers(self, method: str, path: str, body: bytes) -> dict[str, str]: ...


class PeerBackend:
    """`timeout`: seconds without progress (connecting, or between two reads) before a call is
    abandoned; routing applies its own, shorter limits on top."""

    kind = "peer"

    def __init__(
        self,
        address: str,
        *,
        session: aiohttp.ClientSession,
        origin: str,
        auth: RequestSigner | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        scheme: str = "http",
    ) -> None:
        self.address = address
        self.base_url = f"{scheme}://{address}"
        self._session = session
        self._origin = origin
        self._auth = auth
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
        self._max_line_bytes = max_line_bytes

    def _headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        headers = {HOP_HEADER: self._origin}
        if body:
            headers["Content-Type"] = "application/json"
        if self._auth is not None:
            headers.update(self._auth.headers(method, path, body))
        return headers

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        model = request.model or "auto"
        payload: dict[str, Any] = {
            "model": model,
            "messages": [_peer_message(m) for m in request.messages],
            "stream": True,
            "options": ollama_options(request.options),
        }
        if request.tools:
            payload["tools"] = request.tools
        body = json.dumps(payload).encode()
        path = "/api/chat"
        async with (
            self._translate_errors(path),
            self._session.post(
                self.base_url + path,
                data=body,
                headers=self._headers("POST", path, body),
                timeout=self._timeout,
            ) as resp,
        ):
            if resp.status != 200:
                raise _http_error(self.address, resp.status, await resp.text(), request.model)
            calls: list[ToolCall] = []
            async for line in self._lines(resp.content):
                chunk = parse_object(line, f"peer {self.address}")
                calls += _tool_calls(chunk, self.address)
                message = chunk.get("message") or {}
                if chunk.get("done"):
                    yield ChatChunk(
                        content=str(message.get("content") or ""),
                        tool_calls=calls,
                        done=True,
                        done_reason=_done_reason(chunk, calls),
                        model=chunk.get("model"),
                        prompt_tokens=chunk.get("prompt_eval_count"),
                        completion_tokens=chunk.get("eval_count"),
                    )
                    return
                if message.get("content"):
                    yield ChatChunk(content=str(message["content"]), model=chunk.get("model"))
        raise BackendError(f"peer {self.address}: the stream ended before the answer was done")

    async def list_models(self) -> list[ModelInfo]:
        payload = await self._get_json("/api/tags")
        return [
            ModelInfo(
                name=str(m.get("model") or m.get("name") or ""),
                size=int(m.get("size") or 0),
                family=(m.get("details") or {}).get("family"),
                parameter_size=(m.get("details") or {}).get("parameter_size"),
                quantization=(m.get("details") or {}).get("quantization_level"),
                digest=m.get("digest"),
                modified_at=m.get("modified_at"),
            )
            for m in _model_list(payload, self.address)
        ]

    async def loaded_models(self) -> list[LoadedModel]:
        payload = await self._get_json("/api/ps")
        return [
            LoadedModel(
                name=str(m.get("model") or m.get("name") or ""),
                size=int(m.get("size") or 0),
                size_vram=int(m.get("size_vram") or 0),
                expires_at=m.get("expires_at"),
            )
            for m in _model_list(payload, self.address)
        ]

    async def health(self) -> BackendHealth:
        try:
            payload = await self._get_json("/health")
        except BackendError as exc:
            return BackendHealth(ok=False, detail=str(exc))
        return BackendHealth(ok=payload.get("status") == "ok", detail=f"peer {self.address}")

    async def aclose(self) -> None:
        """Nothing to release: the session belongs to the caller."""

    async def _get_json(self, path: str) -> dict[str, Any]:
        async with (
            self._translate_errors(path),
            self._session.get(
                self.base_url + path, headers=self._headers("GET", path, b""), timeout=self._timeout
            ) as resp,
        ):
            text = await resp.text()
            if resp.status != 200:
                raise _http_error(self.address, resp.status, text, None)
        return parse_object(text, f"peer {self.address}")

    async def _lines(self, content: aiohttp.StreamReader) -> AsyncIterator[bytes]:
        buffer = bytearray()
        async for piece in content.iter_any():
            buffer += piece
            *lines, rest = buffer.split(b"\n")
            buffer = bytearray(rest)
            if len(buffer) > self._max_line_bytes:
                raise BackendError(f"peer {self.address}: a line exceeds {self._max_line_bytes}B")
            for line in lines:
                if line.strip():
                    yield bytes(line)
        if buffer.strip():
            yield bytes(buffer)

    @asynccontextmanager
    async def _translate_errors(self, path: str) -> AsyncIterator[None]:
        where = f"peer {self.address}{path}"
        try:
            yield
        except TimeoutError as exc:
            raise BackendError(f"{where}: no answer in time") from exc
        except aiohttp.ClientConnectorError as exc:
            raise BackendError(f"{where}: cannot connect ({exc.os_error})") from exc
        except aiohttp.ClientError as exc:
            raise BackendError(f"{where}: connection failed ({exc!r})") from exc


def _peer_message(message: Message) -> dict[str, Any]:
    """Ollama's wire form plus the tool-call ids harombe's own Ollama API carries, so an
    OpenAI client's ids survive the hop between peers."""
    wire = ollama_message(message)
    for rendered, call in zip(wire.get("tool_calls", []), message.tool_calls, strict=True):
        if call.id:
            rendered["id"] = call.id
    if message.tool_call_id:
        wire["tool_call_id"] = message.tool_call_id
    return wire


def _tool_calls(chunk: dict[str, Any], address: str) -> list[ToolCall]:
    calls = []
    for call in (chunk.get("message") or {}).get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise BackendError(f"peer {address}: malformed tool call: {call!r:.120}")
        arguments = function.get("arguments") or {}
        if not isinstance(arguments, dict):
            raise BackendError(f"peer {address}: tool call arguments are not an object")
        call_id = call.get("id")
        calls.append(
            ToolCall(
                name=function["name"],
                arguments=arguments,
                id=call_id if isinstance(call_id, str) else None,
            )
        )
    return calls


def _done_reason(chunk: dict[str, Any], calls: list[ToolCall]) -> str:
    reason = chunk.get("done_reason") or "stop"
    return "tool_calls" if calls and reason == "stop" else str(reason)


def _model_list(payload: dict[str, Any], address: str) -> list[dict[str, Any]]:
    """The real models a peer lists (its `/api/tags` also names the virtual ones)."""
    models = payload.get("models")
    if not isinstance(models, list) or not all(isinstance(m, dict) for m in models):
        raise BackendError(f"peer {address}: malformed model list")
    return [m for m in models if not (m.get("harombe") or {}).get("virtual")]


def _http_error(address: str, status: int, text: str, model: str | None) -> BackendError:
    message = error_text(text)
    if status == 404 and model:
        return ModelNotFoundError(model)
    if status in (401, 403):
        return BackendError(
            f"peer {address} refused us (HTTP {status}: {message}); do the cluster keys match?",
            status=502,
        )
    retryable = status >= 500 or status in (408, 429) or status == 404
    return BackendError(
        f"peer {address}: HTTP {status}: {message}", status=status, retryable=retryable
    )

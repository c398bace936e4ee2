"""Backend for any OpenAI-compatible server (llama.cpp's, vLLM, LM Studio, ...), over aiohttp.

Chat always streams (`stream: true` with `stream_options.include_usage`), so the first token
reaches the caller as soon as the server has it; streamed tool-call fragments are joined by
their index and handed out, parsed, with the final chunk.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiohttp
import msgspec
import yarl

from harombe.inference import http1
from harombe.inference.openai_stream import (
    EventSplitter,
    StreamAssembler,
)
from harombe.inference.types import (
    BackendError,
    BackendHealth,
    ChatChunk,
    ChatRequest,
    EmbedRequest,
    EmbedResult,
    LoadedModel,
    Message,
    ModelInfo,
    ModelNotFoundError,
    RequestRejected,
)
from harombe.inference.wire import error_text, parse_object

DEFAULT_TIMEOUT = 300.0
DEFAULT_HEALTH_TIMEOUT = 5.0
DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024
STALE_CONNECTION_RETRIES = 2  # pooled connections found closed before one request gets through

_json = msgspec.json.Encoder()
_MODEL_MISSING = re.compile(r"model.*(not found|does not exist)|model_not_found", re.IGNORECASE)


class OpenAIBackend:
    """Chat, model list and health against `{base_url}/v1/...`.

    `timeout` is the seconds without progress (connecting, or between two reads of an answer)
    after which a call is abandoned; a long answer that keeps streaming is never cut off. A
    chat stream's silences are bounded by its caller instead (routing's `first_token_timeout`
    and `chunk_timeout`): a read timer here would be re-armed on every token.
    `health_timeout` bounds a health check, which must answer fast or count as unhealthy.
    `max_event_bytes` caps one server-sent event; a bigger one is treated as a broken stream.
    Chat streams go through harombe's own `http1.HttpClient` (`http`, one of its own by
    default), the other calls through aiohttp (`session`).
    """

    kind = "openai"

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        default_model: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        health_timeout: float = DEFAULT_HEALTH_TIMEOUT,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        session: aiohttp.ClientSession | None = None,
        http: http1.HttpClient | None = None,
    ) -> None:
        self.base_url = _api_root(base_url)
        self._server = http1.Url.parse(self.base_url)
        self._chat_target = yarl.URL(self.base_url).raw_path.rstrip("/") + "/v1/chat/completions"
        self.default_model = default_model
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._json_headers = self._headers | {"Content-Type": "application/json"}
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
        self._health_timeout = aiohttp.ClientTimeout(total=health_timeout)
        self._max_event_bytes = max_event_bytes
        self._session = session
        self._owns_session = session is None
        self._http = http or http1.HttpClient(connect_timeout=timeout)
        self._owns_http = http is None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            if not self._owns_session:
                raise BackendError(f"{self.base_url}: the shared HTTP session is closed")
            self._session = aiohttp.ClientSession()
        return self._session

    async def aclose(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None
        if self._owns_http:
            await self._http.aclose()

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        body = self._chat_body(request)
        url = f"{self.base_url}/v1/chat/completions"
        async with (
            self._translate_errors(url),
            self._http.request(
                "POST",
                self._server,
                self._chat_target,
                headers=self._json_headers,
                body=_json.encode(body),
            ) as resp,
        ):
            if resp.status != 200:
                raise _http_error(url, resp.status, await resp.text(), body.get("model"))
            assembler = StreamAssembler(url)
            events = EventSplitter(self._max_event_bytes, url)
            async for piece in resp.body():
                for data in events.feed(piece):
                    if (chunk := assembler.take(data)) is not None:
                        yield chunk
            for data in events.end():
                if (chunk := assembler.take(data)) is not None:
                    yield chunk
            if not assembler.finished and assembler.finish_reason is None:
                raise BackendError(f"{url}: the stream ended before the answer was complete")
            yield assembler.final()

    async def embed(self, request: EmbedRequest) -> EmbedResult:
        """`/v1/embeddings`; inputs beyond the context window fail there (no truncation)."""
        url = f"{self.base_url}/v1/embeddings"
        body: dict[str, Any] = {"input": request.inputs, "encoding_format": "float"}
        model = request.model or self.default_model
        if model:
            body["model"] = model
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
        async with (
            self._translate_errors(url),
            await self._send("POST", url, self._timeout, body) as resp,
        ):
            text = await resp.text()
        if resp.status != 200:
            raise _http_error(url, resp.status, text, model)
        return _embed_result(parse_object(text, url), len(request.inputs), url)

    async def list_models(self) -> list[ModelInfo]:
        status, text = await self._get("/v1/models", self._timeout)
        url = f"{self.base_url}/v1/models"
        if status != 200:
            raise _http_error(url, status, text, None)
        payload = parse_object(text, url)
        entries = payload.get("data")
        if not isinstance(entries, list):
            raise BackendError(f"{url}: answer has no `data` list of models")
        capabilities = _llamacpp_capabilities(payload)
        return [
            _model_info(entry, capabilities)
            for entry in entries
            if isinstance(entry, dict) and "id" in entry
        ]

    async def loaded_models(self) -> list[LoadedModel]:
        """An OpenAI-compatible server has loaded whatever it serves."""
        return [LoadedModel(name=m.name, size=m.size) for m in await self.list_models()]

    async def health(self) -> BackendHealth:
        try:
            status, text = await self._get("/health", self._health_timeout)
            if status == 200:
                return BackendHealth(ok=True, detail="ok")
            if status != 404:
                return BackendHealth(ok=False, detail=f"HTTP {status}: {error_text(text)}")
            status, text = await self._get("/v1/models", self._health_timeout)
        except BackendError as exc:
            return BackendHealth(ok=False, detail=str(exc))
        if status == 200:
            return BackendHealth(ok=True, detail="ok (/v1/models)")
        return BackendHealth(ok=False, detail=f"HTTP {status}: {error_text(text)}")

    async def _get(self, path: str, limits: aiohttp.ClientTimeout) -> tuple[int, str]:
        url = f"{self.base_url}{path}"
        async with self._translate_errors(url), await self._send("GET", url, limits) as resp:
            return resp.status, await resp.text()

    async def _send(
        self, method: str, url: str, limits: aiohttp.ClientTimeout, body: Any = None
    ) -> aiohttp.ClientResponse:
        """Send (`body`, if any, as JSON), retrying on a fresh connection when a pooled one turns
        out to be closed.

        llama.cpp's server closes the connection after each streamed answer without saying so;
        a request sent right after one finds the socket dead before anything was delivered.
        """
        headers, data = self._headers, None
        if body is not None:
            headers, data = self._json_headers, _json.encode(body)
        for _ in range(STALE_CONNECTION_RETRIES):
            try:
                return await self._client().request(
                    method, url, headers=headers, timeout=limits, data=data
                )
            except aiohttp.ClientConnectorError:
                raise
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                continue
        return await self._client().request(method, url, headers=headers, timeout=limits, data=data)

    @asynccontextmanager
    async def _translate_errors(self, url: str) -> AsyncIterator[None]:
        try:
            yield
        except TimeoutError as exc:
            raise BackendError(f"{url}: timed out, no progress within the time limit") from exc
        except (aiohttp.ClientConnectorError, http1.CannotConnect) as exc:
            raise BackendError(f"{url}: cannot connect ({exc.os_error})") from exc
        except (aiohttp.ClientError, http1.HttpClientError) as exc:
            raise BackendError(f"{url}: connection failed ({exc!r})") from exc

    def _chat_body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "messages": [_wire_message(m) for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        model = request.model or self.default_model
        if model:
            body["model"] = model
        if request.tools:
            body["tools"] = request.tools
        if request.tool_choice is not None:
            body["tool_choice"] = request.tool_choice
        if request.format is not None:
            body["response_format"] = response_format(request.format)
        options = request.options
        for key, value in (
            ("max_tokens", options.max_tokens),
            ("temperature", options.temperature),
            ("top_p", options.top_p),
            ("top_k", options.top_k),  # not OpenAI's; llama.cpp, vLLM and LM Studio honour it
            ("seed", options.seed),
            ("stop", options.stop),
        ):
            if value is not None:
                body[key] = value
        return body


def response_format(format: str | dict[str, Any]) -> dict[str, Any]:
    """OpenAI's `response_format` for the internal `format` ("json" or a JSON schema)."""
    if format == "json":
        return {"type": "json_object"}
    if isinstance(format, dict):
        schema = {"name": "response", "schema": format, "strict": True}
        return {"type": "json_schema", "json_schema": schema}
    raise BackendError(f"unknown response format {format!r}", status=400, retryable=False)


def _embed_result(payload: dict[str, Any], expected: int, url: str) -> EmbedResult:
    data = payload.get("data")
    if not isinstance(data, list) or len(data) != expected:
        raise BackendError(f"{url}: expected {expected} embeddings in `data`")
    rows = sorted(data, key=lambda row: row.get("index", 0) if isinstance(row, dict) else 0)
    vectors = [row.get("embedding") if isinstance(row, dict) else None for row in rows]
    if not all(isinstance(v, list) for v in vectors):
        raise BackendError(f"{url}: an embedding is not a list of numbers")
    usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else {}
    return EmbedResult(
        embeddings=vectors,  # type: ignore[arg-type]
        model=payload.get("model"),
        prompt_tokens=usage.get("prompt_tokens"),
    )


def _api_root(base_url: str) -> str:
    """Accept both `http://host:port` and the `.../v1` form OpenAI clients are given."""
    root = base_url.rstrip("/")
    return root.removesuffix("/v1")


def _wire_message(message: Message) -> dict[str, Any]:
    wire: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        wire["tool_calls"] = [
            {
                "id": call.id or f"call_{i}",
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
            for i, call in enumerate(message.tool_calls)
        ]
    if message.tool_call_id is not None:
        wire["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        wire["name"] = message.name
    return wire


def _http_error(url: str, status: int, text: str, model: str | None) -> BackendError:
    message = error_text(text)
    if model and (status == 404 or (400 <= status < 500 and _MODEL_MISSING.search(message))):
        return ModelNotFoundError(model)
    if status in RequestRejected.CLIENT_STATUSES:
        return RequestRejected(f"the backend rejected the request: {message}", status=status)
    retryable = status >= 500 or status in (408, 429)
    return BackendError(f"{url}: HTTP {status}: {message}", status=status, retryable=retryable)


def _llamacpp_capabilities(payload: dict[str, Any]) -> dict[str, list[str]]:
    """llama.cpp's server also lists its models Ollama-style, with their capabilities."""
    listed = payload.get("models")
    if not isinstance(listed, list):
        return {}
    return {
        str(m.get("model") or m.get("name")): [str(c) for c in m["capabilities"]]
        for m in listed
        if isinstance(m, dict) and isinstance(m.get("capabilities"), list)
    }


def _model_info(entry: dict[str, Any], capabilities: dict[str, list[str]]) -> ModelInfo:
    meta = entry.get("meta") if isinstance(entry.get("meta"), dict) else {}
    created = entry.get("created")
    n_ctx = meta.get("n_ctx")
    return ModelInfo(
        name=str(entry["id"]),
        size=int(meta.get("size") or 0),
        context_length=n_ctx if isinstance(n_ctx, int) and n_ctx > 0 else None,
        capabilities=capabilities.get(str(entry["id"]), []),
        parameter_size=_parameter_size(meta.get("n_params")),
        modified_at=(
            datetime.fromtimestamp(created, UTC).isoformat()
            if isinstance(created, int | float)
            else None
        ),
    )


def _parameter_size(n_params: Any) -> str | None:
    if not isinstance(n_params, int | float) or n_params <= 0:
        return None
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n_params >= scale:
            return f"{n_params / scale:.1f}{suffix}"
    return str(int(n_params))

"""The Ollama API (`/api/*`), so Ollama clients can use a harombe peer as if it were Ollama.

Wire format as in Ollama's docs/api.md: NDJSON streams (the default) or one JSON object when
`"stream": false`; durations in nanoseconds; errors as `{"error": "..."}`, and an error after
the stream started as a last `{"error": "..."}` line. The done line also carries `"harombe"`:
where the answer was served and why (clients ignore unknown fields).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
from aiohttp import web

from harombe import __version__
from harombe.api.answer import (
    Answer,
    collect,
    open_answer,
    route_headers,
    route_options,
    write_stream,
)
from harombe.api.catalog import CatalogEntry, catalog, find
from harombe.api.embedding import route_embedding
from harombe.api.errors import ApiError, guarded
from harombe.api.keys import COORDINATOR_KEY
from harombe.api.models import read_request
from harombe.api.ollama_models import (
    OllamaChatRequest,
    OllamaEmbeddingsRequest,
    OllamaEmbedRequest,
    OllamaGenerateRequest,
    OllamaShowRequest,
)
from harombe.inference.types import ChatChunk, ModelInfo, ToolCall

NDJSON = "application/x-ndjson"
_json = msgspec.json.Encoder()
UNKNOWN_TIME = "1970-01-01T00:00:00Z"  # modified_at of models whose backend does not say
KEPT_LOADED = "2318-08-26T00:00:00Z"  # expires_at of a model no idle timer unloads (as Ollama)
ROOT_TEXT = "Ollama is running"  # what Ollama's `/` says; clients probe it before anything

Shape = Callable[[str, list[ToolCall]], dict[str, Any]]


def rfc3339_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _dumps(payload: dict[str, Any]) -> bytes:
    return _json.encode(payload) + b"\n"


def _chat_shape(content: str, tool_calls: list[ToolCall]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [_tool_call(c) for c in tool_calls]
    return {"message": message}


def _tool_call(call: ToolCall) -> dict[str, Any]:
    rendered: dict[str, Any] = {"function": {"name": call.name, "arguments": call.arguments}}
    return rendered | ({"id": call.id} if call.id else {})


def _generate_shape(content: str, tool_calls: list[ToolCall]) -> dict[str, Any]:
    return {"response": content}


_MARK = "\x00harombe-field\x00"
_MARK_JSON = _json.encode(_MARK)


class _TextLines:
    """The NDJSON lines of text chunks of one answer, rendered as pre-encoded bytes around the
    encoded time and text: byte for byte what `_render` gives such a chunk, without building
    and encoding the whole object per token."""

    def __init__(self, shape: Shape) -> None:
        self._shape = shape
        self._around: dict[str, list[bytes] | None] = {}  # model → the bytes between the fields

    def line(self, model: str, content: str) -> bytes | None:
        """The line, or None when `model`'s name holds the mark (no template then)."""
        around = self._around.get(model, ())
        if around == ():
            line = {"model": model, "created_at": _MARK, **self._shape(_MARK, []), "done": False}
            parts = _dumps(line).split(_MARK_JSON)
            around = self._around[model] = parts if len(parts) == 3 else None
        if around is None:
            return None
        created = _json.encode(rfc3339_now())
        return b"".join((around[0], created, around[1], _json.encode(content), around[2]))


def _details(info: ModelInfo) -> dict[str, Any]:
    return {
        "parent_model": "",
        "format": "gguf" if info.quantization else "",
        "family": info.family or "",
        "families": [info.family] if info.family else None,
        "parameter_size": info.parameter_size or "",
        "quantization_level": info.quantization or "",
    }


def _model_entry(entry: CatalogEntry) -> dict[str, Any]:
    info = entry.info
    return {
        "name": info.name,
        "model": info.name,
        "modified_at": info.modified_at or UNKNOWN_TIME,
        "size": info.size,
        "digest": entry.digest,
        "details": _details(info),
        "harombe": entry.harombe_meta(),
    }


def _running_entry(entry: CatalogEntry) -> dict[str, Any]:
    """An `/api/ps` row: what this node's backend says of the loaded model, when it is here."""
    loaded = entry.loaded
    running = _model_entry(entry) | {
        "expires_at": (loaded and loaded.expires_at) or KEPT_LOADED,
        "size_vram": loaded.size_vram if loaded else 0,
    }
    if entry.info.context_length:
        running["context_length"] = entry.info.context_length
    return running


def _model_info(info: ModelInfo) -> dict[str, Any]:
    """GGUF-style metadata; clients read `<architecture>.context_length` for the window."""
    architecture = info.family or "unknown"
    model_info: dict[str, Any] = {"general.architecture": architecture}
    if info.context_length:
        model_info[f"{architecture}.context_length"] = info.context_length
    return model_info


def error_response(exc: ApiError) -> web.Response:
    return web.json_response({"error": exc.message}, status=exc.status, headers=exc.headers())


def _error_line(exc: ApiError) -> bytes:
    return _dumps({"error": exc.message})


class OllamaApi:
    """Handlers for `/api/*`; the coordinator comes from the app (`COORDINATOR_KEY`)."""

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await read_request(request, OllamaChatRequest)
        return await self._answer(request, body, _chat_shape)

    async def generate(self, request: web.Request) -> web.StreamResponse:
        body = await read_request(request, OllamaGenerateRequest)
        return await self._answer(request, body, _generate_shape)

    async def _answer(
        self,
        request: web.Request,
        body: OllamaChatRequest | OllamaGenerateRequest,
        shape: Shape,
    ) -> web.StreamResponse:
        options = route_options(request)
        chat = body.to_internal()
        if not any(m.content or m.tool_calls for m in chat.messages):  # Ollama's "load" call
            loaded = {"model": body.model, "created_at": rfc3339_now(), **shape("", [])}
            return web.json_response(loaded | {"done": True, "done_reason": "load"})
        async with open_answer(request.app[COORDINATOR_KEY], chat, options) as answer:
            if chat.stream:
                return await write_stream(
                    request,
                    answer,
                    content_type=NDJSON,
                    frames=self._frames(answer, body.model, shape),
                    error_frame=_error_line,
                )
            whole = await collect(answer)
            payload = self._render(answer, whole, body.model, shape)
            return web.json_response(payload, headers=route_headers(answer.route))

    async def _frames(self, answer: Answer, requested: str, shape: Shape) -> AsyncIterator[bytes]:
        text_lines = _TextLines(shape)
        async for chunk in answer:
            if chunk.content and not chunk.tool_calls and not chunk.done:
                model = chunk.model or answer.route.model or requested
                yield text_lines.line(model, chunk.content) or _dumps(
                    self._render(answer, chunk, requested, shape)
                )
                continue
            yield _dumps(self._render(answer, chunk, requested, shape))
            if chunk.done:
                return
        ended = ChatChunk(done=True, done_reason="stop")  # the stream ended without saying so
        yield _dumps(self._render(answer, ended, requested, shape))

    def _render(
        self, answer: Answer, chunk: ChatChunk, requested: str, shape: Shape
    ) -> dict[str, Any]:
        line = {
            "model": chunk.model or answer.route.model or requested,
            "created_at": rfc3339_now(),
            **shape(chunk.content, chunk.tool_calls),
        }
        return line | (self._done_fields(answer, chunk) if chunk.done else {"done": False})

    @staticmethod
    def _done_fields(answer: Answer, final: ChatChunk) -> dict[str, Any]:
        now = time.monotonic_ns()
        total = now - answer.opened_ns
        to_first = (answer.first_chunk_ns or now) - answer.opened_ns
        reason = final.done_reason or "stop"
        return {
            "done": True,
            "done_reason": "stop" if reason == "tool_calls" else reason,
            "total_duration": total,
            "load_duration": 0,
            "prompt_eval_count": final.prompt_tokens or 0,
            "prompt_eval_duration": to_first,
            "eval_count": final.completion_tokens or 0,
            "eval_duration": total - to_first,
            "harombe": answer.route.as_dict(),
        }

    async def tags(self, request: web.Request) -> web.Response:
        entries = await catalog(request.app[COORDINATOR_KEY])
        return web.json_response({"models": [_model_entry(e) for e in entries]})

    async def ps(self, request: web.Request) -> web.Response:
        entries = await catalog(request.app[COORDINATOR_KEY])
        return web.json_response({"models": [_running_entry(e) for e in entries if e.loaded_on]})

    async def embed(self, request: web.Request) -> web.Response:
        body = await read_request(request, OllamaEmbedRequest)
        embedded = await route_embedding(request, body.to_internal())
        payload = {
            "model": embedded.result.model or body.model,
            "embeddings": embedded.result.embeddings,
            "total_duration": embedded.duration_ns,
            "load_duration": 0,
            "prompt_eval_count": embedded.result.prompt_tokens or 0,
            "harombe": embedded.route.as_dict(),
        }
        return web.json_response(payload, headers=route_headers(embedded.route))

    async def embeddings(self, request: web.Request) -> web.Response:
        body = await read_request(request, OllamaEmbeddingsRequest)
        if not body.prompt:  # Ollama answers an empty prompt with an empty vector
            return web.json_response({"embedding": []})
        embedded = await route_embedding(request, body.to_internal())
        vector = embedded.result.embeddings[0]
        return web.json_response({"embedding": vector}, headers=route_headers(embedded.route))

    async def show(self, request: web.Request) -> web.Response:
        body = await read_request(request, OllamaShowRequest)
        entry = await find(request.app[COORDINATOR_KEY], body.model_name)
        info = entry.info
        served = ", ".join(entry.nodes) or "no node yet"
        return web.json_response(
            {
                "modelfile": f"# served by harombe ({served})\nFROM {info.name}\n",
                "parameters": "",
                "template": "",
                "details": _details(info),
                "model_info": _model_info(info),
                "capabilities": entry.capabilities,
                "modified_at": info.modified_at or UNKNOWN_TIME,
                "harombe": entry.harombe_meta(),
            }
        )

    async def version(self, request: web.Request) -> web.Response:
        return web.json_response({"version": __version__})

    async def root(self, request: web.Request) -> web.Response:
        return web.Response(text=ROOT_TEXT)


def add_ollama_routes(app: web.Application) -> None:
    api = OllamaApi()
    guard = guarded(error_response)
    app.router.add_post("/api/chat", guard(api.chat))
    app.router.add_post("/api/generate", guard(api.generate))
    app.router.add_get("/api/tags", guard(api.tags))
    app.router.add_get("/api/ps", guard(api.ps))
    app.router.add_post("/api/show", guard(api.show))
    app.router.add_get("/api/version", guard(api.version))
    app.router.add_post("/api/embed", guard(api.embed))
    app.router.add_post("/api/embeddings", guard(api.embeddings))
    app.router.add_get("/", api.root)  # HEAD too

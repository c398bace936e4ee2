"""The OpenAI API (`/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`, `/v1/models`).

Streams are server-sent events of `chat.completion.chunk` objects ending in `data: [DONE]`;
an error after the stream started is sent as a last `data: {"error": {...}}` event, which the
official client raises. The last chunk (or the completion object) carries `"harombe"`: where
the answer was served and why.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from aiohttp import web

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
from harombe.api.openai_models import ChatCompletionRequest, CompletionRequest, EmbeddingRequest
from harombe.inference.types import ChatChunk, ToolCall

SSE = "text/event-stream"
_json = msgspec.json.Encoder()


def _error_body(exc: ApiError) -> dict[str, Any]:
    kind = "invalid_request_error" if 400 <= exc.status < 500 else "server_error"
    return {"error": {"message": exc.message, "type": kind, "param": exc.param, "code": exc.code}}


def error_response(exc: ApiError) -> web.Response:
    return web.json_response(_error_body(exc), status=exc.status, headers=exc.headers())


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + _json.encode(payload) + b"\n\n"


def _error_event(exc: ApiError) -> bytes:
    return _event(_error_body(exc))


def _tool_call(call: ToolCall, index: int | None = None) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "id": call.id or f"call_{os.urandom(12).hex()}",
        "type": "function",
        "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
    }
    return rendered if index is None else {"index": index, **rendered}


def _finish_reason(final: ChatChunk, called_tools: bool) -> str:
    return "tool_calls" if called_tools else (final.done_reason or "stop")


def _usage(final: ChatChunk) -> dict[str, int]:
    prompt, completion = final.prompt_tokens or 0, final.completion_tokens or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _model_object(entry: CatalogEntry, created: int) -> dict[str, Any]:
    return {
        "id": entry.info.name,
        "object": "model",
        "created": created,
        "owned_by": "harombe",
        "harombe": entry.harombe_meta(),
    }


def _vector(values: list[float], encoding: str) -> list[float] | str:
    """As OpenAI sends it: a list of floats, or base64 of little-endian float32s."""
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
    return values


class _Completion:
    """The fields every object of one completion shares."""

    def __init__(self, answer: Answer, requested: str, prefix: str = "chatcmpl") -> None:
        self.answer = answer
        self.id = f"{prefix}-{os.urandom(16).hex()}"
        self.created = int(time.time())
        self.requested = requested

    def envelope(self, kind: str, model: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": kind,
            "created": self.created,
            "model": model or self.answer.route.model or self.requested,
        }


def _delta_choice(delta: dict[str, Any]) -> dict[str, Any]:
    return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}


_MARK = "\x00harombe-text\x00"
_MARK_JSON = _json.encode(_MARK)


class _ChunkEvents:
    """The `chat.completion.chunk` events of one streamed completion. A chunk of text only,
    nearly every one, is rendered as pre-encoded bytes around the encoded text: byte for byte
    what `event` renders, without building and encoding the whole object per token."""

    def __init__(self, completion: _Completion, include_usage: bool) -> None:
        self._completion = completion
        self._usage: dict[str, Any] = {"usage": None} if include_usage else {}
        self._around_text: dict[str, list[bytes]] = {}  # model → the bytes before and after

    def event(self, choices: list[dict[str, Any]], model: str | None, **extra: Any) -> bytes:
        envelope = self._completion.envelope("chat.completion.chunk", model)
        return _event(envelope | {"choices": choices} | self._usage | extra)

    def text(self, content: str, model: str | None) -> bytes:
        completion = self._completion
        model = model or completion.answer.route.model or completion.requested
        around = self._around_text.get(model)
        if around is None:
            template = self.event([_delta_choice({"content": _MARK})], model)
            around = template.split(_MARK_JSON)
            if len(around) != 2:  # the mark also in the model's name: no template
                return self.event([_delta_choice({"content": content})], model)
            self._around_text[model] = around
        return around[0] + _json.encode(content) + around[1]


class OpenAIApi:
    """Handlers for `/v1/*`; the coordinator comes from the app (`COORDINATOR_KEY`)."""

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        options = route_options(request)
        body = await read_request(request, ChatCompletionRequest)
        chat = body.to_internal()
        async with open_answer(request.app[COORDINATOR_KEY], chat, options) as answer:
            completion = _Completion(answer, body.model)
            if chat.stream:
                return await write_stream(
                    request,
                    answer,
                    content_type=SSE,
                    frames=self._events(completion, body.include_usage),
                    error_frame=_error_event,
                )
            whole = await collect(answer)
            message: dict[str, Any] = {"role": "assistant", "content": whole.content or None}
            if whole.tool_calls:
                message["tool_calls"] = [_tool_call(c) for c in whole.tool_calls]
            payload = completion.envelope("chat.completion", whole.model) | {
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "logprobs": None,
                        "finish_reason": _finish_reason(whole, bool(whole.tool_calls)),
                    }
                ],
                "usage": _usage(whole),
                "harombe": answer.route.as_dict(),
            }
            return web.json_response(payload, headers=route_headers(answer.route))

    @staticmethod
    async def _events(completion: _Completion, include_usage: bool) -> AsyncIterator[bytes]:
        chunks = _ChunkEvents(completion, include_usage)
        final = ChatChunk(done=True, done_reason="stop")
        delta: dict[str, Any] = {"role": "assistant"}
        tools_called = 0
        async for piece in completion.answer:
            if piece.content and not piece.tool_calls and not delta:
                yield chunks.text(piece.content, piece.model)
            else:
                if piece.content:
                    delta["content"] = piece.content
                if piece.tool_calls:
                    delta["tool_calls"] = [
                        _tool_call(c, tools_called + i) for i, c in enumerate(piece.tool_calls)
                    ]
                    tools_called += len(piece.tool_calls)
                if delta:
                    yield chunks.event([_delta_choice(delta)], piece.model)
                    delta = {}
            if piece.done:
                final = piece
        finish = {
            "index": 0,
            "delta": {},
            "logprobs": None,
            "finish_reason": _finish_reason(final, tools_called > 0),
        }
        meta = {"harombe": completion.answer.route.as_dict()}
        if include_usage:
            yield chunks.event([finish], final.model)
            yield chunks.event([], final.model, usage=_usage(final), **meta)
        else:
            yield chunks.event([finish], final.model, **meta)
        yield b"data: [DONE]\n\n"

    async def completions(self, request: web.Request) -> web.StreamResponse:
        """Legacy text completions: `text_completion` objects, streamed or whole."""
        options = route_options(request)
        body = await read_request(request, CompletionRequest)
        chat = body.to_internal()
        async with open_answer(request.app[COORDINATOR_KEY], chat, options) as answer:
            completion = _Completion(answer, body.model, prefix="cmpl")
            if chat.stream:
                return await write_stream(
                    request,
                    answer,
                    content_type=SSE,
                    frames=self._text_events(completion, body.include_usage),
                    error_frame=_error_event,
                )
            whole = await collect(answer)
            choice = {
                "text": whole.content,
                "index": 0,
                "logprobs": None,
                "finish_reason": _finish_reason(whole, False),
            }
            payload = completion.envelope("text_completion", whole.model) | {
                "choices": [choice],
                "usage": _usage(whole),
                "harombe": answer.route.as_dict(),
            }
            return web.json_response(payload, headers=route_headers(answer.route))

    @staticmethod
    async def _text_events(completion: _Completion, include_usage: bool) -> AsyncIterator[bytes]:
        def event(text: str, finish: str | None, model: str | None, **extra: Any) -> bytes:
            choice = {"text": text, "index": 0, "logprobs": None, "finish_reason": finish}
            envelope = completion.envelope("text_completion", model)
            return _event(envelope | {"choices": [choice]} | extra)

        final = ChatChunk(done=True, done_reason="stop")
        async for piece in completion.answer:
            if piece.content:
                yield event(piece.content, None, piece.model)
            if piece.done:
                final = piece
        meta = {"harombe": completion.answer.route.as_dict()}
        usage = {"usage": _usage(final)} if include_usage else {}
        yield event("", _finish_reason(final, False), final.model, **usage, **meta)
        yield b"data: [DONE]\n\n"

    async def embeddings(self, request: web.Request) -> web.Response:
        body = await read_request(request, EmbeddingRequest)
        embedded = await route_embedding(request, body.to_internal())
        result = embedded.result
        data = [
            {"object": "embedding", "index": i, "embedding": _vector(v, body.encoding_format)}
            for i, v in enumerate(result.embeddings)
        ]
        tokens = result.prompt_tokens or 0
        payload = {
            "object": "list",
            "data": data,
            "model": result.model or body.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            "harombe": embedded.route.as_dict(),
        }
        return web.json_response(payload, headers=route_headers(embedded.route))

    async def models(self, request: web.Request) -> web.Response:
        entries = await catalog(request.app[COORDINATOR_KEY])
        created = int(time.time())
        data = [_model_object(e, created) for e in entries]
        return web.json_response({"object": "list", "data": data})

    async def model(self, request: web.Request) -> web.Response:
        entry = await find(request.app[COORDINATOR_KEY], request.match_info["model"])
        return web.json_response(_model_object(entry, int(time.time())))


def add_openai_routes(app: web.Application) -> None:
    api = OpenAIApi()
    guard = guarded(error_response)
    app.router.add_post("/v1/chat/completions", guard(api.chat_completions))
    app.router.add_post("/v1/completions", guard(api.completions))
    app.router.add_post("/v1/embeddings", guard(api.embeddings))
    app.router.add_get("/v1/models", guard(api.models))
    app.router.add_get("/v1/models/{model:.+}", guard(api.model))  # names may hold "/" and ":"

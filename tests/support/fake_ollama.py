"""A scripted stand-in for an Ollama server, for tests only.

A real Ollama cannot run here, so this speaks its HTTP API byte for byte as documented
(ollama/ollama `docs/api.md`, `api/types.go`) and as the official client parses it
(ollama-python `_types.py`): NDJSON streams, the same field names, nanosecond durations,
RFC 3339 timestamps, `{"error": ...}` bodies. `tests/test_fake_ollama.py` drives it with the
official `ollama.AsyncClient` to keep it honest.

What a test can script (`Script`): the answer text, a delay or an event to wait for before the
first token, an HTTP 500 before the first token, a connection cut after k chunks, an in-band
error line after k chunks, and tool calls; `queue` holds scripts for the next chat requests.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

VERSION = "0.12.6"


@dataclass
class FakeModel:
    name: str  # "llama3.2:latest"
    size: int = 2_019_393_189
    family: str = "llama"
    parameter_size: str = "3.2B"
    quantization_level: str = "Q4_K_M"
    context_length: int = 4096  # the loaded context (`/api/ps`)
    trained_context_length: int = 131072  # the GGUF's `<arch>.context_length` (`/api/show`)
    capabilities: list[str] = field(default_factory=lambda: ["completion", "tools"])
    loaded: bool = True

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.name.encode()).hexdigest()

    def details(self) -> dict[str, Any]:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": self.family,
            "families": [self.family],
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization_level,
        }


@dataclass
class Script:
    text: str = "Hello from the fake Ollama."
    first_token_delay: float = 0.0
    release: asyncio.Event | None = None  # set by the test to let the first token go
    fail_before_first_token: bool = False  # HTTP 500, as when the runner crashes
    die_after_chunks: int | None = None  # close the connection after this many chunks
    error_after_chunks: int | None = None  # send an in-band {"error": ...} line instead
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # [{"name", "arguments"}]


@dataclass
class FakeOllama:
    models: list[FakeModel] = field(default_factory=lambda: [FakeModel("llama3.2:latest")])
    script: Script = field(default_factory=Script)
    queue: collections.deque[Script] = field(default_factory=collections.deque)
    """Scripts for the next chat requests, one each, before `script` answers again."""
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)  # set on every request body
    _runner: web.AppRunner | None = None
    url: str = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/", self._root)
        app.router.add_get("/api/version", self._version)
        app.router.add_get("/api/tags", self._tags)
        app.router.add_get("/api/ps", self._ps)
        app.router.add_post("/api/show", self._show)
        app.router.add_post("/api/chat", self._chat)
        app.router.add_post("/api/generate", self._generate)
        app.router.add_post("/api/embed", self._embed)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site.port}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeOllama:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def find(self, name: str) -> FakeModel | None:
        full = name if ":" in name else f"{name}:latest"
        return next((m for m in self.models if m.name == full), None)

    async def _root(self, request: web.Request) -> web.Response:
        return web.Response(text="Ollama is running")

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response({"version": VERSION})

    async def _tags(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "models": [
                    {
                        "name": m.name,
                        "model": m.name,
                        "modified_at": _timestamp(datetime.now(UTC) - timedelta(days=3)),
                        "size": m.size,
                        "digest": m.digest,
                        "details": m.details(),
                    }
                    for m in self.models
                ]
            }
        )

    async def _ps(self, request: web.Request) -> web.Response:
        expires = _timestamp(datetime.now(UTC) + timedelta(minutes=5))
        return web.json_response(
            {
                "models": [
                    {
                        "name": m.name,
                        "model": m.name,
                        "size": m.size,
                        "digest": m.digest,
                        "details": m.details(),
                        "expires_at": expires,
                        "size_vram": m.size,
                        "context_length": m.context_length,
                    }
                    for m in self.models
                    if m.loaded
                ]
            }
        )

    async def _show(self, request: web.Request) -> web.Response:
        body, error = await self._body(request)
        if error is not None:
            return error
        model = self.find(body.get("model", ""))
        if model is None:
            return _not_found(body.get("model", ""))
        return web.json_response(
            {
                "license": "",
                "modelfile": f'# Modelfile generated by "ollama show"\nFROM {model.name}\n',
                "parameters": 'stop                           "<|eot_id|>"',
                "template": "{{ .Prompt }}",
                "details": model.details(),
                "model_info": {
                    "general.architecture": model.family,
                    "general.parameter_count": 3_212_749_888,
                    f"{model.family}.context_length": model.trained_context_length,
                },
                "capabilities": model.capabilities,
                "modified_at": _timestamp(datetime.now(UTC) - timedelta(days=3)),
            }
        )

    async def _embed(self, request: web.Request) -> web.Response:
        body, error = await self._body(request)
        if error is not None:
            return error
        model = self.find(body.get("model") or "")
        if model is None:
            return _not_found(body.get("model") or "")
        if "embedding" not in model.capabilities:
            return _error(400, f'"{model.name}" does not support embeddings')
        texts = body.get("input") or []
        texts = [texts] if isinstance(texts, str) else texts
        return web.json_response(
            {
                "model": model.name,
                "embeddings": [fake_embedding(t, body.get("dimensions")) for t in texts],
                "total_duration": 14_143_917,
                "load_duration": 1_019_500,
                "prompt_eval_count": sum(len(t.split()) for t in texts),
            }
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._answer(request, "/api/chat")

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        return await self._answer(request, "/api/generate")

    async def _body(self, request: web.Request) -> tuple[dict[str, Any], web.Response | None]:
        try:
            body = await request.json()
        except ValueError:
            return {}, _error(400, "invalid character looking for beginning of value")
        if not isinstance(body, dict):
            return {}, _error(400, "json: cannot unmarshal into Go value of type api.Request")
        self.requests.append((request.path, body))
        self.arrived.set()
        return body, None

    async def _answer(self, request: web.Request, path: str) -> web.StreamResponse:
        body, error = await self._body(request)
        if error is not None:
            return error
        name = body.get("model") or ""
        if not name:
            return _error(400, "model is required")
        if self.find(name) is None:
            return _not_found(name)
        chat = path == "/api/chat"
        script = self.queue.popleft() if chat and self.queue else self.script
        tokens = re.findall(r"\s*\S+", script.text)
        limit = (body.get("options") or {}).get("num_predict")
        done_reason = "stop"
        if isinstance(limit, int) and 0 <= limit < len(tokens):
            tokens, done_reason = tokens[:limit], "length"
        if script.first_token_delay:
            await asyncio.sleep(script.first_token_delay)
        if script.release is not None:
            await script.release.wait()
        if script.fail_before_first_token:
            return _error(500, "llama runner process has terminated: exit status 2")
        prompt_tokens = _prompt_tokens(body)
        parts = [self._part(name, chat, text) for text in tokens]
        if chat and script.tool_calls:
            parts.append(self._part(name, chat, "", tool_calls=script.tool_calls))
        final = self._part(name, chat, "") | _final_fields(done_reason, prompt_tokens, len(tokens))
        if not chat:
            final["context"] = list(range(1, prompt_tokens + len(tokens) + 1))
        if body.get("stream", True) is False:
            return web.json_response(_merged(parts, final, chat))
        return await self._stream(request, parts, final, script)

    def _part(
        self, model: str, chat: bool, text: str, tool_calls: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        part: dict[str, Any] = {"model": model, "created_at": _timestamp(datetime.now(UTC))}
        if chat:
            part["message"] = {"role": "assistant", "content": text}
            if tool_calls:
                part["message"]["tool_calls"] = [
                    {
                        "id": f"call_{i}",
                        "function": {"index": i, "name": c["name"], "arguments": c["arguments"]},
                    }
                    for i, c in enumerate(tool_calls)
                ]
        else:
            part["response"] = text
        part["done"] = False
        return part

    async def _stream(
        self,
        request: web.Request,
        parts: list[dict[str, Any]],
        final: dict[str, Any],
        script: Script,
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        for sent, part in enumerate(parts):
            if sent == script.die_after_chunks:
                assert request.transport is not None
                request.transport.close()
                return response
            if sent == script.error_after_chunks:
                await response.write(_line({"error": "an error was encountered while running"}))
                await response.write_eof()
                return response
            await response.write(_line(part))
        await response.write(_line(final))
        await response.write_eof()
        return response


FAKE_EMBEDDING_SIZE = 8


def fake_embedding(text: str, dimensions: int | None = None) -> list[float]:
    """A deterministic unit vector per text, as an embedding model's would be."""
    raw = [b - 127.5 for b in hashlib.sha256(text.encode()).digest()[:FAKE_EMBEDDING_SIZE]]
    raw = raw[: dimensions or FAKE_EMBEDDING_SIZE]
    norm = sum(x * x for x in raw) ** 0.5
    return [x / norm for x in raw]


def _merged(parts: list[dict[str, Any]], final: dict[str, Any], chat: bool) -> dict[str, Any]:
    """The single object Ollama answers when `stream` is false."""
    merged = dict(final)
    if chat:
        merged["message"] = {
            "role": "assistant",
            "content": "".join(p["message"]["content"] for p in parts),
        }
        calls = [c for p in parts for c in p["message"].get("tool_calls", [])]
        if calls:
            merged["message"]["tool_calls"] = calls
    else:
        merged["response"] = "".join(p["response"] for p in parts)
    return merged


def _final_fields(done_reason: str, prompt_tokens: int, eval_count: int) -> dict[str, Any]:
    prompt_ns, eval_ns, load_ns = (
        20_000_000 + prompt_tokens * 1_000_000,
        eval_count * 25_000_000,
        1_500_000,
    )
    return {
        "done": True,
        "done_reason": done_reason,
        "total_duration": load_ns + prompt_ns + eval_ns,
        "load_duration": load_ns,
        "prompt_eval_count": prompt_tokens,
        "prompt_eval_duration": prompt_ns,
        "eval_count": eval_count,
        "eval_duration": eval_ns,
    }


def _prompt_tokens(body: dict[str, Any]) -> int:
    texts = [m.get("content") or "" for m in body.get("messages") or [] if isinstance(m, dict)]
    texts.append(body.get("prompt") or "")
    return max(1, sum(len(t.split()) for t in texts))


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _not_found(name: str) -> web.Response:
    return _error(404, f'model "{name}" not found, try pulling it first')

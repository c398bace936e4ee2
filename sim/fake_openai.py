"""A scriptable OpenAI-compatible server on loopback, speaking OpenAI's exact wire format.

`POST /v1/chat/completions` streams `chat.completion.chunk` events (`data: {...}` + blank line,
a role delta first, one delta per piece, a finish_reason chunk, a usage chunk when asked with
`stream_options.include_usage`, then `data: [DONE]`); errors are OpenAI's
`{"error": {"message", "type", "param", "code"}}` with the HTTP status. `GET /v1/models` lists
the one model, with its context window (`meta.n_ctx`) and capabilities as llama.cpp's server
reports them when given.

Each chat request takes the next `Reply` from `script`, else `default`; `requests` keeps every
chat body received, in order.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Reply:
    pieces: list[str] = field(default_factory=lambda: ["Hello", " from", " fake"])
    status: int = 200  # anything else: fail with this status before the first token
    die_after: int | None = None  # cut the connection after this many pieces
    hold: asyncio.Event | None = None  # wait for this before the first token
    hold_after: int | None = None  # ... or after this many pieces (a stalled stream)
    tool_call: tuple[str, dict[str, Any]] | None = None  # (name, arguments) after the pieces
    interval: float = 0.0  # seconds between pieces: a backend decoding at 1/interval tokens/s


class FakeOpenAI:
    def __init__(
        self,
        model: str = "fake-model",
        default: Reply | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        length_from_max_tokens: bool = False,
        n_ctx: int | None = None,
        capabilities: list[str] | None = None,
    ) -> None:
        self.model = model
        self.n_ctx = n_ctx
        self.capabilities = capabilities
        self.host, self.port = host, port
        # Benchmarks ask for answers of many lengths: then `max_tokens` pieces of the default.
        self.length_from_max_tokens = length_from_max_tokens
        self.default = default or Reply()
        self.script: collections.deque[Reply] = collections.deque()
        self.requests: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()  # set on each chat request
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> FakeOpenAI:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://{self.host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def last_messages(self) -> list[dict[str, Any]]:
        return self.requests[-1]["messages"]

    async def _models(self, request: web.Request) -> web.Response:
        entry: dict[str, Any] = {"id": self.model, "object": "model", "created": 0}
        entry["owned_by"] = "fake"
        listing: dict[str, Any] = {"object": "list", "data": [entry]}
        if self.n_ctx is not None:
            entry["meta"] = {"n_ctx": self.n_ctx}
        if self.capabilities is not None:
            listing["models"] = [{"model": self.model, "capabilities": self.capabilities}]
        return web.json_response(listing)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.arrived.set()
        reply = self.script.popleft() if self.script else self.default
        if self.length_from_max_tokens and body.get("max_tokens"):
            reply = dataclasses.replace(reply, pieces=reply.pieces[:1] * int(body["max_tokens"]))
        if reply.hold is not None and reply.hold_after is None:
            await reply.hold.wait()
        if reply.status != 200:
            error = {"message": "scripted failure", "type": "server_error", "param": None,
                     "code": None}  # fmt: skip
            return web.json_response({"error": error}, status=reply.status)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        created = int(time.time())
        cid = f"chatcmpl-{len(self.requests)}"

        def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
            chunk = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": self.model,
                "system_fingerprint": None,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
            return f"data: {json.dumps(chunk)}\n\n".encode()

        await response.write(event({"role": "assistant", "content": ""}))
        for i, piece in enumerate(reply.pieces):
            if i == reply.die_after:
                assert request.transport is not None
                request.transport.abort()
                return response
            if i == reply.hold_after and reply.hold is not None:
                await reply.hold.wait()
            if reply.interval:
                await asyncio.sleep(reply.interval)
            await response.write(event({"content": piece}))
        if reply.tool_call is not None:
            name, arguments = reply.tool_call
            head = {"index": 0, "id": "call_1", "type": "function",
                    "function": {"name": name, "arguments": ""}}  # fmt: skip
            await response.write(event({"tool_calls": [head]}))
            args = json.dumps(arguments)
            for part in (args[: len(args) // 2], args[len(args) // 2 :]):
                tail = {"index": 0, "function": {"arguments": part}}
                await response.write(event({"tool_calls": [tail]}))
        await response.write(event({}, "tool_calls" if reply.tool_call else "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {
                "prompt_tokens": 5,
                "completion_tokens": len(reply.pieces),
                "total_tokens": 5 + len(reply.pieces),
            }
            chunk = {"id": cid, "object": "chat.completion.chunk", "created": created,
                     "model": self.model, "choices": [], "usage": usage}  # fmt: skip
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


async def _serve(port: int, interval: float) -> None:
    fake = FakeOpenAI(default=Reply(pieces=[" t"], interval=interval), port=port,
                      length_from_max_tokens=True)  # fmt: skip
    async with fake:
        print(f"listening on {fake.url}", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="A fake OpenAI-compatible server on loopback.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--interval", type=float, default=0.0, help="seconds between tokens")
    args = parser.parse_args()
    asyncio.run(_serve(args.port, args.interval))

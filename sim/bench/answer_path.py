"""The CPU one routed answer costs in harombe's own code, in one process, without sockets.

The path of a streamed OpenAI request on a peer, from the dispatcher to the rendered frames:
`Dispatcher.open`, the routed answer and its time limits, the measured backend, the backend
reading its stream (an OpenAI-compatible server's events, or another peer's frames) through
harombe's HTTP client, the answer and the `chat.completion.chunk` events. The server's bytes
(HTTP/1.1, chunked) reach the client's connection one read at a time by loop callbacks; the
kernel's and the HTTP server's costs are left out, so small changes to harombe's own
per-request and per-token work show here that the loopback benchmark (`overhead`) cannot
resolve on a busy machine.

`python -m sim.bench answer-path`
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

from harombe.api.answer import open_answer
from harombe.api.openai_api import OpenAIApi, _Completion
from harombe.inference import http1, peer_wire
from harombe.inference.openai_compat import OpenAIBackend
from harombe.inference.peer import PeerBackend
from harombe.inference.stats import MeasuredBackend
from harombe.inference.types import Backend, ChatChunk, ChatRequest, Message
from harombe.routing.dispatch import Dispatcher
from harombe.routing.route import RouteOptions
from harombe.routing.view import Candidate, StaticView

MODEL = "fake-model"
TOKENS = 16


def openai_events() -> list[bytes]:
    """An OpenAI-compatible server's streamed answer of `TOKENS` tokens, an event per item."""

    def event(delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> bytes:
        choices = [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]
        chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": MODEL}
        chunk |= {"choices": choices} | ({"usage": usage} if usage else {})
        return b"data: " + json.dumps(chunk).encode() + b"\n\n"

    return [
        event({"role": "assistant", "content": ""}),
        *(event({"content": f"word{i} "}) for i in range(TOKENS)),
        event({}, "stop"),
        event({}, usage={"prompt_tokens": 5, "completion_tokens": TOKENS}),
        b"data: [DONE]\n\n",
    ]


def peer_frames() -> list[bytes]:
    """The same answer as a serving peer frames it for `/cluster/forward`, a frame per item."""
    done = ChatChunk(done=True, done_reason="stop", model=MODEL, prompt_tokens=5)
    chunks = [ChatChunk(content=f"word{i} ", model=MODEL) for i in range(TOKENS)]
    return [peer_wire.chunk_frame(c) for c in [*chunks, done]]


def _chunked(items: list[bytes]) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(item), item) for item in items)


class _Transport(asyncio.Transport):
    """A connection whose server gives every request the same answer (`reads`, one per loop
    iteration)."""

    def __init__(self, conn: http1.Connection, reads: list[bytes]) -> None:
        super().__init__()
        self._conn = conn
        self._reads = reads
        self._loop = asyncio.get_running_loop()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._loop.call_soon(self._arrive, iter(self._reads))

    def _arrive(self, reads: Iterator[bytes]) -> None:
        read = next(reads, None)
        if read is not None:
            self._conn.data_received(read)
            self._loop.call_soon(self._arrive, reads)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class _Server(http1.HttpClient):
    """Stands in for the server's socket: `HttpClient`'s own parsing and pooling, no kernel."""

    def __init__(self, reads: list[bytes]) -> None:
        super().__init__(connect_timeout=1.0)
        self._reads = reads

    async def _connect(self, url: http1.Url) -> http1.Connection:
        conn = http1.Connection(http1.MAX_HEAD_BYTES)
        conn.connection_made(_Transport(conn, self._reads))
        return conn


def _backend(kind: str, per_read: int) -> Backend:
    items = openai_events() if kind == "openai" else peer_frames()
    content_type = "text/event-stream" if kind == "openai" else peer_wire.CONTENT_TYPE
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n"
    reads = [_chunked(items[i : i + per_read]) for i in range(0, len(items), per_read)]
    reads[0] = (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + reads[0]
    reads[-1] += b"0\r\n\r\n"
    http = _Server(reads)
    if kind == "openai":
        return OpenAIBackend("http://backend", http=http)
    session: Any = None  # chat streams go through `http` alone
    return PeerBackend("127.0.0.1:1", session=session, http=http, origin="bench")


async def cpu_per_answer(kind: str, per_read: int, answers: int, rounds: int) -> float:
    """Microseconds of CPU per answer, the least of `rounds` rounds of `answers` each."""
    backend = MeasuredBackend(_backend(kind, per_read))
    local = Candidate("bench", "127.0.0.1:0", tier=0, models=[MODEL], loaded=[MODEL], is_local=True)
    dispatcher = Dispatcher(
        node_name="bench",
        local_backend=backend,
        view=StaticView([local]),
        connect=lambda candidate: backend,
    )
    chat = ChatRequest(messages=[Message("user", "Say hello.")], model=MODEL, stream=True)

    async def answer() -> None:
        async with open_answer(dispatcher, chat, RouteOptions()) as opened:
            async for _ in OpenAIApi._events(_Completion(opened, MODEL), False):
                pass

    await answer()
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(answers):
            await answer()
        best = min(best, (time.process_time() - started) / answers)
    return best * 1e6


async def run_answer_path(quick: bool = False) -> str:
    answers, rounds = (300, 2) if quick else (3000, 7)
    lines = [
        "### The answer path in one process (no sockets)",
        "",
        f"CPU per answer of {TOKENS} tokens, least of {rounds} rounds of {answers:,} answers.",
        "",
        "| the backend is | a token per read | 4 per read | the whole answer in one read |",
        "|---|---|---|---|",
    ]
    for kind, label in (("openai", "an OpenAI-compatible server"), ("peer", "another peer")):
        cells = [f"{await cpu_per_answer(kind, n, answers, rounds):.0f} µs" for n in (1, 4, 1_000)]
        lines.append(f"| {label} | {' | '.join(cells)} |")
    return "\n".join(lines)

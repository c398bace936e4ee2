"""The CPU one routed answer costs in harombe's own code, in one process, without sockets.

The path of a streamed OpenAI request on a peer, from the dispatcher to the rendered frames:
`Dispatcher.open`, the routed answer and its time limits, the measured backend, the backend
reading its stream (an OpenAI-compatible server's events, or another peer's frames), the
answer and the `chat.completion.chunk` events. The backend's bytes come from a fake HTTP
session, handed over one read at a time by loop callbacks; aiohttp's, the kernel's and the
HTTP server's costs are left out, so small changes to harombe's own per-request and per-token
work show here that the loopback benchmark (`overhead`) cannot resolve on a busy machine.

`python -m sim.bench answer-path`
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

from harombe.api.answer import open_answer
from harombe.api.openai_api import OpenAIApi, _Completion
from harombe.inference import peer_wire
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


class _Protocol:
    """What `aiohttp.StreamReader` asks of its connection."""

    connected = True
    _reading_paused = False

    def pause_reading(self) -> None:
        pass

    def resume_reading(self, resume_parser: bool = True) -> None:
        pass


class _Response:
    """A 200 answer whose body arrives in `reads`, one per loop iteration."""

    status = 200

    def __init__(self, reads: list[bytes], content_type: str) -> None:
        loop = asyncio.get_running_loop()
        self.content_type = content_type
        self.content = aiohttp.StreamReader(_Protocol(), 2**16, loop=loop)  # type: ignore[arg-type]
        self._reads = iter(reads)
        loop.call_soon(self._arrive, loop)

    def _arrive(self, loop: asyncio.AbstractEventLoop) -> None:
        read = next(self._reads, None)
        if read is None:
            self.content.feed_eof()
        else:
            self.content.feed_data(read)
            loop.call_soon(self._arrive, loop)

    async def __aenter__(self) -> _Response:
        return self

    async def __aexit__(self, *exc: object) -> None:
        pass


class _Session:
    """Stands in for `aiohttp.ClientSession`: every request gets the same answer."""

    closed = False

    def __init__(self, reads: list[bytes], content_type: str) -> None:
        self._reads = reads
        self._content_type = content_type

    async def request(self, *args: object, **kwargs: object) -> _Response:
        return _Response(self._reads, self._content_type)

    def post(self, *args: object, **kwargs: object) -> _Response:
        return _Response(self._reads, self._content_type)


def _backend(kind: str, per_read: int) -> Backend:
    items = openai_events() if kind == "openai" else peer_frames()
    reads = [b"".join(items[i : i + per_read]) for i in range(0, len(items), per_read)]
    if kind == "openai":
        session: Any = _Session(reads, "text/event-stream")
        return OpenAIBackend("http://backend", session=session)
    session = _Session(reads, peer_wire.CONTENT_TYPE)
    return PeerBackend("127.0.0.1:1", session=session, origin="bench")


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

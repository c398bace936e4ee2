"""Reading an OpenAI-compatible server's streamed chat answer: server-sent events, split as bytes
and decoded by msgspec straight into typed structs, then assembled into `ChatChunk`s.

One event arrives per token, so this runs for every token a peer relays: no text decoding of
lines, no JSON decoded into dicts and read back key by key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from harombe.inference.types import BackendError, ChatChunk, ToolCall
from harombe.inference.wire import error_message, error_text

DONE = b"[DONE]"


class _Function(msgspec.Struct):
    name: str | None = None
    arguments: str | None = None


class _CallFragment(msgspec.Struct):
    index: int | None = None
    id: str | None = None
    function: _Function | None = None


class _Delta(msgspec.Struct):
    content: str | None = None
    tool_calls: list[_CallFragment] | None = None


class _Choice(msgspec.Struct):
    delta: _Delta | None = None
    finish_reason: str | None = None


class _Usage(msgspec.Struct):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class ChunkEvent(msgspec.Struct):
    """The fields of a `chat.completion.chunk` harombe uses; the rest is skipped unread."""

    model: str | None = None
    choices: list[_Choice] | None = None
    usage: _Usage | None = None
    error: Any = None


_decoder = msgspec.json.Decoder(ChunkEvent)


def decode_event(data: bytes, where: str) -> ChunkEvent:
    """One event's data; BackendError when it is not a chunk object or reports an error."""
    try:
        event = _decoder.decode(data)
    except msgspec.DecodeError as exc:  # also a ValidationError: valid JSON, wrong shape
        raise BackendError(f"{where}: malformed stream event ({exc}): {data[:120]!r}") from exc
    if event.error is not None:
        raise BackendError(f"{where}: reported an error: {error_message({'error': event.error})}")
    return event


class EventSplitter:
    """The `data` of each server-sent event, cut from the stream's bytes as they arrive however
    they are split (`feed` each piece, `end` at the stream's end); comments and other fields are
    skipped. BackendError on an event over `max_bytes`, or on an `error:` line (llama.cpp
    reports a failure mid-stream this way) once the events before it are handed out."""

    def __init__(self, max_bytes: int, url: str) -> None:
        self._max_bytes = max_bytes
        self._url = url
        self._rest = b""  # the start of a line not complete yet
        self._data: list[bytes] = []  # the data lines of an event not complete yet

    def feed(self, piece: bytes) -> Iterator[bytes]:
        buffer = self._rest + piece if self._rest else piece
        data = self._data
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            if not data and buffer.startswith(b"\n\n", end) and buffer.startswith(b"data: ", start):
                if not buffer.endswith(b"\r", start, end):  # a one-line event, nearly every one
                    yield buffer[start + 6 : end]
                    start = end + 2
                    continue
            line = buffer[start:end]
            start = end + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if data:
                    yield data[0] if len(data) == 1 else b"\n".join(data)
                    data.clear()
            elif line.startswith(b"data:"):
                data.append(line[6:] if line.startswith(b"data: ") else line[5:])
            elif line.startswith(b"error:"):
                text = line[6:].decode("utf-8", "replace")
                raise BackendError(f"{self._url}: server reported an error: {error_text(text)}")
        self._rest = buffer[start:]
        if len(self._rest) > self._max_bytes:
            raise BackendError(f"{self._url}: a stream event exceeds {self._max_bytes} bytes")

    def end(self) -> Iterator[bytes]:
        """The last event, when the stream ends without the blank line after it."""
        tail = self._rest.rstrip(b"\r")
        if tail.startswith(b"data:"):
            self._data.append(tail[6:] if tail.startswith(b"data: ") else tail[5:])
        if self._data:
            yield b"\n".join(self._data)


@dataclass
class _PartialCall:
    id: str | None = None
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class StreamAssembler:
    """Turns the events of the answer from `url` into ChatChunks; keeps what the final chunk
    needs, and whether the stream's closing `[DONE]` came (`finished`)."""

    url: str
    finished: bool = False
    model: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    calls: dict[int, _PartialCall] = field(default_factory=dict)

    def take(self, data: bytes) -> ChatChunk | None:
        """One event's data; the chunk it makes, if any."""
        if data == DONE:  # the caller reads on to the response's end: the connection is reused
            self.finished = True
            return None
        return self.feed(decode_event(data, self.url))

    def feed(self, event: ChunkEvent) -> ChatChunk | None:
        if event.model:
            self.model = event.model
        usage = event.usage
        if usage is not None:
            if usage.prompt_tokens is not None:
                self.prompt_tokens = usage.prompt_tokens
            if usage.completion_tokens is not None:
                self.completion_tokens = usage.completion_tokens
        if not event.choices:
            return None
        choice = event.choices[0]
        if choice.finish_reason:
            self.finish_reason = choice.finish_reason
        delta = choice.delta
        if delta is None:
            return None
        for fragment in delta.tool_calls or ():
            self._add_fragment(fragment)
        if delta.content:
            return ChatChunk(content=delta.content, model=self.model)
        return None

    def _add_fragment(self, fragment: _CallFragment) -> None:
        index = len(self.calls) if fragment.index is None else fragment.index
        call = self.calls.setdefault(index, _PartialCall())
        call.id = fragment.id or call.id
        function = fragment.function or _Function()
        call.name += function.name or ""
        call.arguments.append(function.arguments or "")

    def final(self) -> ChatChunk:
        return ChatChunk(
            done=True,
            done_reason=self.finish_reason,
            tool_calls=[self._tool_call(self.calls[i], self.url) for i in sorted(self.calls)],
            model=self.model,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
        )

    @staticmethod
    def _tool_call(call: _PartialCall, url: str) -> ToolCall:
        text = "".join(call.arguments).strip() or "{}"
        try:
            arguments = json.loads(text)
        except ValueError as exc:
            raise BackendError(
                f"{url}: tool call {call.name!r} has arguments that are not JSON: {text[:120]!r}"
            ) from exc
        if not isinstance(arguments, dict):
            raise BackendError(f"{url}: tool call {call.name!r} arguments are not an object")
        return ToolCall(name=call.name, arguments=arguments, id=call.id)

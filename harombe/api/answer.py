"""From a parsed request to a routed answer: headers in, the coordinator's stream, headers out.

Both client APIs use this; they differ only in how a chunk, the final chunk and an error are
rendered. The first chunk is awaited before any response starts, so routing failures still
get a proper HTTP status and the serving node can be named in the response headers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import aclosing, asynccontextmanager, contextmanager
from dataclasses import replace

from aiohttp import web

from harombe.api.coalesce import StreamResponse, write_coalesced
from harombe.api.errors import ApiError, internal_error
from harombe.api.observe import Trace, current_trace
from harombe.inference.peer_wire import HOP_HEADER
from harombe.inference.types import BackendError, ChatChunk, ChatRequest, ToolCall
from harombe.routing.route import Coordinator, RouteInfo, RouteOptions

log = logging.getLogger(__name__)

TIER_HEADER = "X-Harombe-Tier"
CLASSIFIED_TIER_HEADER = "X-Harombe-Classified-Tier"
NODE_HEADER = "X-Harombe-Node"
TIERS = (0, 1, 2)


def route_options(request: web.Request) -> RouteOptions:
    """RouteOptions from the request headers: a preferred tier, and the peer hop marker."""
    tier: int | None = None
    raw = request.headers.get(TIER_HEADER)
    if raw is not None:
        try:
            tier = int(raw.strip())
        except ValueError:
            tier = None
        if tier not in TIERS:
            raise ApiError(400, f"{TIER_HEADER} must be 0, 1 or 2, got {raw!r}", param=TIER_HEADER)
    return RouteOptions(prefer_tier=tier, local_only=HOP_HEADER in request.headers)


def route_headers(route: RouteInfo) -> dict[str, str]:
    headers: dict[str, str] = {}
    if route.node is not None:
        headers[NODE_HEADER] = route.node
    if route.tier is not None:
        headers[TIER_HEADER] = str(route.tier)
    if route.classified_tier is not None:
        headers[CLASSIFIED_TIER_HEADER] = str(route.classified_tier)
    return headers


class Answer:
    """A routed answer whose first chunk has arrived; iterate it for all chunks. What it sees
    is noted in `trace` (the request's, see `observe`)."""

    def __init__(
        self, route: RouteInfo, chunks: AsyncIterator[ChatChunk], trace: Trace | None = None
    ) -> None:
        self.route = route
        self.opened_ns = time.monotonic_ns()
        self.first_chunk_ns: int | None = None
        self._chunks = chunks
        self._trace = trace
        self._first: ChatChunk | None = None

    @contextmanager
    def _failures(self) -> Iterator[None]:
        """The coordinator's failures as the client's errors, noted in the trace."""
        try:
            yield
        except BackendError as exc:
            if self._trace is not None:
                self._trace.failed_status = exc.status
            raise ApiError.from_backend(exc) from exc
        except Exception as exc:
            if self._trace is not None:
                self._trace.failed_status = 500
            raise internal_error(exc) from exc

    async def _start(self) -> None:
        with self._failures():
            self._first = await anext(self._chunks, None)
        self.first_chunk_ns = time.monotonic_ns()
        if self._first is not None and self._trace is not None:
            self._trace.saw(self._first)

    async def __aiter__(self) -> AsyncIterator[ChatChunk]:
        """The answer's chunks up to and including the one marked done (or the stream's end)."""
        first, self._first = self._first, None
        if first is None:
            return
        yield first
        if first.done:
            return
        trace = self._trace
        with self._failures():  # the stream's: nothing is thrown in at a `yield` here
            async for chunk in self._chunks:
                if trace is not None:
                    trace.saw(chunk)
                yield chunk
                if chunk.done:
                    return


@asynccontextmanager
async def open_answer(
    coordinator: Coordinator, chat: ChatRequest, options: RouteOptions
) -> AsyncIterator[Answer]:
    """Route `chat` and wait for its first chunk; the coordinator's stream is closed on exit."""
    try:
        stream = coordinator.open(chat, options)
    except BackendError as exc:
        raise ApiError.from_backend(exc) from exc
    trace = current_trace()
    if trace is not None:
        trace.route = stream.route
    chunks = aiter(stream)
    try:
        answer = Answer(stream.route, chunks, trace)
        await answer._start()
        yield answer
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


async def collect(answer: Answer) -> ChatChunk:
    """The whole answer as one final chunk, for non-streaming requests."""
    parts: list[str] = []
    tool_calls: list[ToolCall] = []
    final = ChatChunk(done=True, done_reason="stop")
    async for chunk in answer:
        parts.append(chunk.content)
        tool_calls.extend(chunk.tool_calls)
        if chunk.done:
            final = chunk
    return replace(final, content="".join(parts), tool_calls=tool_calls)


async def write_stream(
    request: web.Request,
    answer: Answer,
    *,
    content_type: str,
    frames: AsyncIterator[bytes],
    error_frame: Callable[[ApiError], bytes],
) -> web.StreamResponse:
    """Send `frames` as they come; a failure mid-answer ends the stream with `error_frame`.

    A client that goes away mid-answer only ends the loop: the frames generator and, through
    `open_answer`, the coordinator's stream are closed by their owners.
    """
    headers = {**route_headers(answer.route), "Content-Type": content_type}
    response = StreamResponse(headers=headers | {"Cache-Control": "no-cache"})
    await response.prepare(request)
    try:
        async with aclosing(frames):
            try:
                await write_coalesced(response, frames)
            except ApiError as exc:
                log.warning("answer failed mid-stream: %s", exc.message)
                await response.write_eof(error_frame(exc))
    except ConnectionResetError:
        log.debug("client went away mid-answer")
    return response

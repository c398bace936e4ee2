"""A routed answer frees what it holds (its node's slot) as soon as its reader closes it, not
when the garbage collector gets to the generators inside it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

import pytest

from harombe.inference.types import ChatChunk, ChatRequest, Message
from harombe.routing.dispatch import Dispatcher
from harombe.routing.route import RouteOptions
from harombe.routing.view import Candidate, StaticView


class OneWord:
    kind = "test"

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        yield ChatChunk(content="word", model="m")
        yield ChatChunk(done=True, done_reason="stop", model="m")


@pytest.mark.parametrize("forwarded", [False, True], ids=["routed", "forwarded-here"])
async def test_closing_a_finished_answer_frees_its_slot_at_once(forwarded: bool) -> None:
    local = Candidate("n", "127.0.0.1:0", tier=0, models=["m"], loaded=["m"], is_local=True)
    backend = OneWord()
    dispatcher = Dispatcher(
        node_name="n", local_backend=backend, view=StaticView([local]), connect=lambda c: backend
    )
    request = ChatRequest(messages=[Message("user", "hi")], model="m")
    answer = dispatcher.open(request, RouteOptions(local_only=forwarded))
    async with aclosing(aiter(answer)) as chunks:  # type: ignore[type-var]
        async for chunk in chunks:
            if chunk.done:  # a reader stops at the done chunk, as the client APIs do
                assert dispatcher.in_flight() == {"n": 1}
                break
    assert dispatcher.in_flight() == {}

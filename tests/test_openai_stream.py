"""Server-sent events cut from an OpenAI-compatible stream's bytes however they arrive
(`EventSplitter`)."""

from __future__ import annotations

import pytest

from harombe.inference.openai_stream import EventSplitter
from harombe.inference.types import BackendError

STREAM = (
    b": a comment\r\n"
    b'data: {"a":1}\r\n\r\n'
    b"event: ignored\n"
    b'data:{"b":2}\n'
    b'data: {"c":3}\n\n'
    b"data: [DONE]\n\n"
)
EVENTS = [b'{"a":1}', b'{"b":2}\n{"c":3}', b"[DONE]"]


def split(pieces: list[bytes], max_bytes: int = 1024) -> list[bytes]:
    events = EventSplitter(max_bytes, "http://backend")
    return [e for piece in pieces for e in events.feed(piece)] + list(events.end())


@pytest.mark.parametrize("size", [1, 2, 3, 7, 16, len(STREAM)])
def test_events_come_out_whole_however_the_bytes_are_split(size):
    assert split([STREAM[i : i + size] for i in range(0, len(STREAM), size)]) == EVENTS


ONE_LINE_EVENTS = [b'{"a":1}', b"", b'{"b": "x\\ny"}', b"[DONE]"]
ONE_LINE_STREAM = b"".join(b"data: " + e + b"\n\n" for e in ONE_LINE_EVENTS)


@pytest.mark.parametrize("size", [1, 2, 5, 9, len(ONE_LINE_STREAM)])
def test_one_line_events_come_out_whole_however_the_bytes_are_split(size):
    pieces = [ONE_LINE_STREAM[i : i + size] for i in range(0, len(ONE_LINE_STREAM), size)]
    assert split(pieces) == ONE_LINE_EVENTS


def test_a_line_ending_in_cr_before_a_bare_blank_line_loses_its_cr():
    assert split([b"data: x\r\n\ndata: y\n\r\n"]) == [b"x", b"y"]


def test_the_last_event_counts_without_its_blank_line():
    assert split([b'data: {"a":1}\n\ndata: [DONE]\r']) == [b'{"a":1}', b"[DONE]"]
    assert split([b"data: [DONE]\n"]) == [b"[DONE]"]


def test_an_error_line_fails_the_stream_after_the_events_before_it():
    events = EventSplitter(1024, "http://backend")
    got = []
    with pytest.raises(BackendError, match="server reported an error: context overflow"):
        got.extend(events.feed(b'data: {"a":1}\n\nerror: {"message":"context overflow"}\n\n'))
    assert got == [b'{"a":1}']


def test_an_event_over_the_limit_fails_the_stream():
    events = EventSplitter(8, "http://backend")
    with pytest.raises(BackendError, match="a stream event exceeds 8 bytes"):
        list(events.feed(b"data: " + b"x" * 20))

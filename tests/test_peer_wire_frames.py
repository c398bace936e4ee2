"""Frames of a forwarded answer cut from its bytes however they arrive (`FrameReader`)."""

from __future__ import annotations

import pytest

from harombe.inference import peer_wire
from harombe.inference.types import ChatChunk

CHUNKS = [ChatChunk(content="hel", model="m"), ChatChunk(content="lo"), ChatChunk(done=True)]
STREAM = b"".join(peer_wire.chunk_frame(c) for c in CHUNKS)


def read(pieces: list[bytes]) -> tuple[list[ChatChunk | None], bool]:
    reader = peer_wire.FrameReader(max_frame_bytes=1024)
    frames = [frame for piece in pieces for frame in reader.feed(piece)]
    return [f.chunk for f in frames], reader.cut_short


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, len(STREAM)])
def test_frames_come_out_whole_however_the_bytes_are_split(size):
    pieces = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]
    assert read(pieces) == (CHUNKS, False)


def test_a_frame_is_handed_out_as_soon_as_its_last_byte_arrives():
    reader = peer_wire.FrameReader(max_frame_bytes=1024)
    first = peer_wire.chunk_frame(CHUNKS[0])
    assert reader.feed(first[:-1]) == []
    assert [f.chunk for f in reader.feed(first[-1:])] == [CHUNKS[0]]


def test_a_stream_that_ends_inside_a_frame_is_cut_short():
    assert read([STREAM[:-1]]) == (CHUNKS[:2], True)
    assert read([STREAM[:2]]) == ([], True)  # inside the length itself


def test_an_error_frame_comes_out_as_sent():
    error = peer_wire.ForwardError(status=503, message="busy", retryable=True)
    [frame] = peer_wire.FrameReader(1024).feed(peer_wire.error_frame(error))
    assert frame.error == error and frame.chunk is None


def test_a_frame_over_the_limit_is_refused_by_its_length_alone():
    reader = peer_wire.FrameReader(max_frame_bytes=8)
    with pytest.raises(peer_wire.WireError, match="a frame of 300B exceeds 8B"):
        reader.feed((300).to_bytes(4, "big"))


def test_bytes_that_are_not_a_frame_are_refused():
    with pytest.raises(peer_wire.WireError, match="malformed frame"):
        peer_wire.FrameReader(1024).feed(b"\x00\x00\x00\x02\xff\xff")

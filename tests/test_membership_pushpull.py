"""Digest-based push/pull: version comparison, range chunking, repair over small frames."""

from __future__ import annotations

import itertools

import pytest
from membership_net import Net

from harombe.cluster.config import MembershipConfig
from harombe.cluster.membership import MemberState
from harombe.cluster.messages import DigestEntry, PushPull
from harombe.cluster.pushpull import compare, digest_messages, newer

A, S, D, L = MemberState.ALIVE, MemberState.SUSPECT, MemberState.DEAD, MemberState.LEFT


def e(name="x", gen=1, inc=0, state=A, rv=1) -> DigestEntry:
    return DigestEntry(name, gen, inc, state, rv)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (e(inc=1), e(inc=0), True),
        (e(inc=0), e(inc=1), False),
        (e(gen=2, inc=0), e(gen=1, inc=9), True),
        (e(state=S), e(state=A), True),
        (e(state=D), e(state=S), True),
        (e(state=L), e(state=D), False),
        (e(rv=2), e(rv=1), True),
        (e(gen=1, rv=9), e(gen=2, rv=1), False),
        (e(), e(), False),
    ],
)
def test_newer(a, b, expected):
    assert newer(a, b) is expected


def test_compare_gives_what_the_sender_lacks_and_wants_what_we_lack():
    mine = {
        "a": e("a", inc=2),
        "b": e("b", inc=1),
        "dead": e("dead", state=D),
        "same": e("same"),
    }
    theirs = PushPull("", None, (e("b", inc=3), e("c"), e("ghost", state=D), e("same")))
    give, want = compare(mine, theirs)
    assert sorted(give) == ["a"]
    assert want == ("b", "c")


def test_compare_only_covers_the_digest_range():
    mine = {"a": e("a"), "m": e("m"), "z": e("z")}
    give, _ = compare(mine, PushPull("b", "n", ()))
    assert give == ["m"]


def test_digest_is_split_into_consecutive_ranges_that_fit():
    entries = [e(f"node-{i:04d}") for i in range(500)]
    msgs = digest_messages(entries, budget=2000)
    assert len(msgs) > 1
    assert msgs[0].lo == "" and msgs[-1].hi is None
    for left, right in itertools.pairwise(msgs):
        assert left.hi == right.lo == right.digest[0].name
    assert [x.name for m in msgs for x in m.digest] == sorted(x.name for x in entries)


def test_join_converges_when_state_needs_many_frames():
    cfg = MembershipConfig(max_frame_bytes=4096, piggyback_bytes=512)
    net = Net(cfg)
    net.add("seed")
    for i in range(40):
        net.add(f"n{i:02d}", seeds=["seed"])
    assert net.run_until(net.converged, 10)
    late = net.add("late", seeds=["seed"])
    assert net.run_until(lambda: len(late.members()) == 42, 3)
    assert all(v.record is not None for v in late.members())

"""Digest-based push/pull: version comparison, range chunking, repair over small frames."""

from __future__ import annotations

import itertools

import pytest
from support.membership_net import Forger, Net, addr, lone

from harombe.cluster.config import MembershipConfig
from harombe.cluster.membership import MemberState
from harombe.cluster.messages import DigestEntry, PushPull, Summary, Sync
from harombe.cluster.pushpull import compare, digest_hash, digest_messages, newer

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


def _digest_of(m) -> list[DigestEntry]:
    return [
        DigestEntry(v.name, v.generation, v.incarnation, v.state, v.record_version)
        for v in m.members()
    ]


def test_digest_hash_ignores_order_and_sees_any_change():
    entries = [e("a"), e("b", inc=2), e("c", state=S)]
    assert digest_hash(entries) == digest_hash(reversed(entries))
    assert digest_hash(entries) != digest_hash([e("a"), e("b", inc=2), e("c", state=D)])
    assert digest_hash(entries) != digest_hash([e("a"), e("b", inc=2), e("c", state=S, rv=2)])
    assert digest_hash(entries) != digest_hash(entries[:2])


def test_a_summary_that_matches_our_digest_gets_no_answer():
    m, out = lone()
    peer = Forger("peer")
    m.receive(peer.frame(Summary(1, digest_hash(_digest_of(m)))), 0.0)
    assert out.sent == []


def test_a_summary_that_differs_gets_our_digest():
    m, out = lone()
    peer = Forger("peer")
    stale = [DigestEntry("me", m.generation, 0, A, 0)]  # an older record version of us
    m.receive(peer.frame(Summary(1, digest_hash(stale))), 0.0)
    [(to, data)] = out.sent
    assert to == addr("peer")
    msg = peer.codec.decode(data).msgs[0]
    assert isinstance(msg, PushPull) and [x.name for x in msg.digest] == ["me"]


def test_at_rest_periodic_push_pull_sends_only_summaries():
    cfg = MembershipConfig(pushpull_interval=1.0, pushpull_max_interval=1.0)
    net = Net(cfg)
    for i in range(6):
        net.add(f"n{i}", seeds=["n0"] if i else None)
    assert net.run_until(net.converged, 10)
    net.run(5.0)  # let the join exchanges finish
    sent = net.recorded = []
    net.run(5.0)
    decoded = [Forger("x").codec.decode(d).msgs for d in sent]
    kinds = {type(msg) for msgs in decoded for msg in msgs}
    assert Summary in kinds
    assert PushPull not in kinds and Sync not in kinds

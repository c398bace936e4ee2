"""Push/pull on its own: the hash-first periodic exchange, joins retried with backoff, and
merging a peer's entries."""

from __future__ import annotations

import itertools

from support.membership_net import Parts, addr

from harombe.cluster.codec import Envelope
from harombe.cluster.messages import PushPull, Summary, Sync, SyncEntry, Want
from harombe.cluster.pushpull import StateExchange
from harombe.cluster.record import NodeRecord
from harombe.cluster.state import MemberState
from harombe.cluster.transitions import StateMachine


def exchange(peers=("a", "b")) -> tuple[Parts, StateExchange]:
    p = Parts(peers=list(peers))
    return p, StateExchange(p.core, p.out, StateMachine(p.core, p.out))


def env(sender: str = "a") -> Envelope:
    return Envelope(sender, addr(sender), 1, 1, 0.0, [])


def entry(name: str, state: MemberState = MemberState.ALIVE, inc: int = 0) -> SyncEntry:
    return SyncEntry(name, addr(name), 1, inc, state, 1, NodeRecord(name, addr(name)).raw())


def test_a_periodic_exchange_opens_with_a_summary_and_equal_views_end_it():
    p, x = exchange()
    x.start()
    p.advance(p.config.pushpull_max_interval + 1)
    [(_, [summary])] = p.sent()
    assert isinstance(summary, Summary) and summary.members == 3
    q, same = exchange()
    same.handle_summary(env(), summary)
    assert q.sent() == []


def test_a_different_summary_is_answered_with_the_digest():
    p, x = exchange()
    x.handle_summary(env(), Summary(2, b"x" * 16))
    [(to, [digest])] = p.sent()
    assert to == addr("a") and isinstance(digest, PushPull)
    assert {e.name for e in digest.digest} == {"me", "a", "b"}


def test_a_digest_is_answered_with_what_its_sender_lacks_and_what_we_want():
    p, x = exchange()
    theirs = PushPull("", None, (entry("a"), entry("z")))
    x.handle_pushpull(env(), PushPull(theirs.lo, theirs.hi, tuple(e for e in _digest(theirs))))
    frames = [msgs[0] for _, msgs in p.sent()]
    sync = next(m for m in frames if isinstance(m, Sync))
    want = next(m for m in frames if isinstance(m, Want))
    assert {e.name for e in sync.entries} == {"me", "b"} and want.names == ("z",)


def _digest(pp: PushPull):
    from harombe.cluster.messages import DigestEntry

    return [DigestEntry(e.name, e.gen, e.inc, e.state, e.rv) for e in pp.digest]


def test_a_join_is_retried_with_backoff_until_answered():
    p, x = exchange(())
    x.join([addr("seed")])
    times = []
    for _ in range(40):
        p.advance(0.5)
        if p.sent():
            times.append(p.core.now)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert times[:2] == [0.5, 1.0] and gaps[1:4] == [2.0, 4.0, 8.0]
    x.handle_sync(Envelope("seed", addr("seed"), 1, 1, 0.0, []), Sync((entry("seed"),)))
    assert p.core.table.get("seed").state is MemberState.ALIVE


def test_merged_dead_entries_become_suspicions_not_deaths():
    p, x = exchange()
    x.handle_sync(env("b"), Sync((entry("a", MemberState.DEAD),)))
    assert p.core.table.get("a").state is MemberState.SUSPECT

"""Dissemination on its own: piggybacking queued news, gossip rounds, who gossip goes to."""

from __future__ import annotations

from support.membership_net import Parts

from harombe.cluster.config import MembershipConfig
from harombe.cluster.messages import NO_RECORD, Ack, Alive, Dead, Ping
from harombe.cluster.state import MemberState


def test_a_broadcast_goes_out_in_the_next_gossip_round_to_gossip_nodes_peers():
    cfg = MembershipConfig(gossip_nodes=2)
    p = Parts(peers=[f"p{i}" for i in range(6)], config=cfg)
    p.out.broadcast("x", Dead("x", 1, 0, "me"))
    assert p.sent() == []
    p.advance(0.0)
    frames = p.sent()
    assert len(frames) == 2 and len({to for to, _ in frames}) == 2
    assert all(msgs == [Dead("x", 1, 0, "me")] for _, msgs in frames)


def test_news_stops_after_the_retransmit_limit():
    p = Parts(peers=["a", "b", "c"])
    p.out.broadcast("x", Dead("x", 1, 0, "me"), limit=2)
    for _ in range(10):
        p.advance(p.config.gossip_interval)
    carried = [msgs for _, msgs in p.sent() if Dead("x", 1, 0, "me") in msgs]
    assert len(carried) == 2
    assert len(p.out.queue) == 0


def test_queued_news_rides_on_protocol_frames():
    p = Parts(peers=["a"])
    p.out.broadcast("x", Dead("x", 1, 0, "me"))
    p.out.send("a.test:8765", [Ack(3)])
    [(to, msgs)] = p.sent()
    assert to == "a.test:8765" and msgs == [Ack(3), Dead("x", 1, 0, "me")]


def test_no_piggyback_when_asked_for_none():
    p = Parts(peers=["a"])
    p.out.broadcast("x", Dead("x", 1, 0, "me"))
    p.out.send("a.test:8765", [Ping(1, "a")], piggyback=False)
    assert p.sent() == [("a.test:8765", [Ping(1, "a")])]


def test_newer_news_about_a_subject_replaces_the_older():
    p = Parts(peers=["a"])
    p.out.broadcast("x", Dead("x", 1, 0, "me"))
    p.out.broadcast("x", Dead("x", 1, 1, "me"))
    p.advance(0.0)
    [(_, msgs)] = p.sent()
    assert msgs == [Dead("x", 1, 1, "me")]


def test_broadcast_self_carries_the_record_unless_refuting():
    p = Parts()
    p.out.broadcast_self(with_record=False)
    alive = p.out.queue.get("me").msg
    assert isinstance(alive, Alive) and alive.record == NO_RECORD
    p.out.broadcast_self()
    assert p.out.queue.get("me").msg.record == p.core.me.record.raw()


def test_gossip_reaches_the_dead_only_for_a_while():
    p = Parts()
    dead = p.member("d", MemberState.DEAD)
    assert p.out.gossip_ok(dead)
    p.core.now = p.config.gossip_to_dead_time + 1
    assert not p.out.gossip_ok(dead) and p.out.gossip_ok(p.member("a"))


def test_send_errors_are_counted_not_raised():
    p = Parts(peers=["a"])

    def broken(to: str, data: bytes) -> None:
        raise OSError("down")

    p.out._send_fn = broken
    p.out.send("a.test:8765", [Ack(1)])
    assert p.core.stats.send_errors == 1 and p.core.stats.frames_sent == 1

"""Dissemination on its own: piggybacking queued news, gossip rounds, who gossip goes to."""

from __future__ import annotations

from support.membership_net import Parts

from harombe.cluster.config import MembershipConfig
from harombe.cluster.messages import NO_RECORD, Ack, Alive, Dead, Load, Ping
from harombe.cluster.record import NodeLoad
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


def load(name: str, rv: int, active: int = 1) -> Load:
    return Load(name, 1, rv, 1, NodeLoad(active, 0, {}, {}))


def test_load_news_stays_within_its_byte_budget_however_many_nodes_are_busy():
    cfg = MembershipConfig(load_gossip_bytes=512)
    for busy in (10, 200):
        p = Parts(peers=[f"p{i}" for i in range(busy)], config=cfg)
        sent_bytes = 0
        for second in range(20):
            for i in range(busy):
                p.out.broadcast_load(load(f"p{i}", 2 + second))
            for _ in range(int(1 / cfg.gossip_interval)):
                p.advance(cfg.gossip_interval)
            sent_bytes += sum(len(data) for _, data in p.outbox.sent)
            p.outbox.sent.clear()
        assert sent_bytes <= 512 * 21, (busy, sent_bytes)
        assert sent_bytes >= 512 * 15, (busy, sent_bytes)


def test_a_nodes_newer_load_replaces_its_older_one_in_the_queue():
    p = Parts(peers=["a"])
    p.out.broadcast_load(load("x", 2, active=1))
    p.out.broadcast_load(load("x", 3, active=5))
    p.advance(0.0)
    [(_, msgs)] = p.sent()
    assert msgs == [load("x", 3, active=5)]


def test_other_news_goes_before_load_news():
    p = Parts(peers=["a"], config=MembershipConfig(piggyback_bytes=64))
    p.out.broadcast_load(load("x", 2))
    p.out.broadcast("y", Dead("y", 1, 0, "me"))
    p.advance(0.0)
    [(_, msgs)] = p.sent()
    assert msgs[0] == Dead("y", 1, 0, "me")

"""The failure detector on its own: direct probe, indirect probe through helpers, the
accusation when both fail, health, and relaying pings for others."""

from __future__ import annotations

from support.membership_net import Parts, addr

from harombe.cluster.codec import Envelope
from harombe.cluster.messages import Ack, Nack, Ping, PingReq, Suspect
from harombe.cluster.probing import Prober


def prober(peers=("a",)) -> tuple[Parts, Prober, list[Suspect]]:
    p = Parts(peers=list(peers))
    accused: list[Suspect] = []
    return p, Prober(p.core, p.out, accused.append), accused


def env(sender: str) -> Envelope:
    return Envelope(sender, addr(sender), 1, 1, 0.0, [])


def test_a_probe_pings_a_member_and_an_ack_settles_it():
    p, pr, accused = prober()
    pr.tick()
    [(to, [ping])] = p.sent()
    assert to == addr("a") and ping == Ping(pr.probe.seq, "a")
    p.core.awareness.apply(2)
    pr.handle_ack(env("a"), Ack(ping.seq))
    p.advance(p.config.probe_interval)
    assert accused == [] and p.core.awareness.score == 1
    assert p.core.table.get("a").rtt is not None


def test_a_silent_target_is_probed_through_helpers_then_accused():
    p, pr, accused = prober(("a", "b", "c", "d"))
    p.core.table.probe_order[:] = ["a", "b", "c", "d"]
    pr.tick()
    p.sent()
    p.advance(p.config.probe_timeout)
    requests = p.sent()
    assert len(requests) == min(p.config.indirect_checks, 3)
    assert all(isinstance(msgs[0], PingReq) and msgs[0].target == "a" for _, msgs in requests)
    p.advance(p.config.probe_interval - p.config.probe_timeout)
    assert accused == [Suspect("a", 1, 0, "me")]
    assert p.core.stats.probe_failures == 1


def test_missing_nacks_count_against_our_own_health_and_nacks_do_not():
    p, pr, _ = prober(("a", "b", "c", "d"))
    p.core.table.probe_order[:] = ["a", "b", "c", "d"]
    pr.tick()
    p.advance(p.config.probe_timeout)
    for _ in range(pr.probe.expected_nacks):
        pr.handle_nack(env("b"), Nack(pr.probe.seq))
    p.advance(p.config.probe_interval - p.config.probe_timeout)
    assert p.core.awareness.score == 0


def test_a_ping_for_someone_else_is_dropped_as_misdirected():
    p, pr, _ = prober()
    pr.handle_ping(env("a"), Ping(5, "not-me"))
    assert p.sent() == [] and p.core.stats.dropped == {"misdirected": 1}
    pr.handle_ping(env("a"), Ping(5, "me"))
    assert p.sent() == [(addr("a"), [Ack(5)])]


def test_a_relay_forwards_the_ack_or_nacks_when_the_target_stays_silent():
    p, pr, _ = prober(("a", "b"))
    pr.handle_ping_req(env("a"), PingReq(11, "b", addr("b"), True))
    [(to, [ping])] = p.sent()
    assert to == addr("b") and ping.target == "b"
    pr.handle_ack(env("b"), Ack(ping.seq))
    assert p.sent() == [(addr("a"), [Ack(11)])]
    pr.handle_ping_req(env("a"), PingReq(12, "b", addr("b"), True))
    p.sent()
    p.advance(p.config.probe_timeout)
    assert p.sent() == [(addr("a"), [Nack(12)])]


def test_no_probing_while_leaving_and_none_without_peers():
    p, pr, _ = prober(())
    pr.tick()
    assert p.sent() == [] and pr.probe is None
    p.core.leaving = True
    p.advance(10 * p.config.probe_interval)
    assert p.sent() == []

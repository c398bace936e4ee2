"""One test per transition and precedence rule (memberlist's state_test.go as the checklist)."""

from __future__ import annotations

import pytest
from support.membership_net import Forger, addr, as_wire, lone

from harombe.cluster.config import MembershipConfig
from harombe.cluster.membership import MemberState
from harombe.cluster.messages import (
    NO_RECORD,
    Ack,
    Alive,
    Dead,
    Left,
    MsgType,
    Suspect,
    Sync,
    SyncEntry,
    Want,
)
from harombe.cluster.record import NodeRecord

ALIVE, SUSPECT, DEAD, LEFT = (
    MemberState.ALIVE,
    MemberState.SUSPECT,
    MemberState.DEAD,
    MemberState.LEFT,
)
PEER = Forger("peer")


def alive(name: str, inc: int = 0, gen: int = 1, rv: int = 1, **record: object) -> Alive:
    return Alive(name, addr(name), gen, inc, rv, NodeRecord(name, addr(name), **record).raw())


def feed(m, *msgs, now: float = 0.0) -> None:
    m.receive(PEER.frame(*msgs), now)


def queued(m, key: str) -> list | None:
    item = m._queue.get(key)
    return as_wire(item.msg) if item else None


def test_alive_new_node_is_added_announced_and_broadcast():
    m, _ = lone()
    changes = []
    m.on_change.append(lambda view, prev: changes.append((view.name, view.state, prev)))
    feed(m, alive("b", inc=3, tier=2))
    view = m.get("b")
    assert (view.state, view.incarnation, view.record.tier) == (ALIVE, 3, 2)
    assert view.address == addr("b") and not view.is_self and view.rtt is None
    assert changes == [("b", ALIVE, None)]
    assert queued(m, "b")[0] == MsgType.ALIVE
    assert m.alive_count() == 2


def test_alive_old_or_equal_incarnation_is_ignored():
    m, _ = lone()
    feed(m, alive("b", inc=2, tier=1))
    m._queue._by_key.clear()
    feed(m, alive("b", inc=1, tier=2), alive("b", inc=2, tier=2))
    view = m.get("b")
    assert (view.incarnation, view.record.tier) == (2, 1)
    assert queued(m, "b") is None


def test_alive_same_incarnation_newer_record_updates_record_only():
    m, _ = lone()
    records = []
    m.on_record.append(lambda view: records.append(view.record.tier))
    feed(m, alive("b", inc=0), Suspect("b", 1, 0, "c"))
    feed(m, alive("b", inc=0, rv=2, tier=2))
    view = m.get("b")
    assert (view.state, view.record.tier, view.record_version) == (SUSPECT, 2, 2)
    assert records == [2]
    feed(m, alive("b", inc=0, rv=1, tier=0))
    assert m.get("b").record.tier == 2


def test_suspect_marks_suspect_and_broadcasts():
    m, _ = lone()
    feed(m, alive("b", inc=1))
    feed(m, Suspect("b", 1, 1, "c"))
    assert m.get("b").state is SUSPECT
    assert queued(m, "b") == [MsgType.SUSPECT, "b", 1, 1, "c"]
    assert m.alive_count() == 1


def test_suspect_with_old_incarnation_is_ignored():
    m, _ = lone()
    feed(m, alive("b", inc=2))
    feed(m, Suspect("b", 1, 1, "c"))
    assert m.get("b").state is ALIVE


def test_suspect_unknown_node_is_ignored():
    m, _ = lone()
    feed(m, Suspect("ghost", 1, 0, "c"))
    assert m.get("ghost") is None


def test_suspected_self_refutes_with_higher_incarnation():
    m, _ = lone()
    feed(m, Suspect("me", 1, 5, "c"))
    me = m.get("me")
    assert (me.state, me.incarnation) == (ALIVE, 6)
    msg = queued(m, "me")
    assert msg[0] == MsgType.ALIVE and msg[4] == 6
    assert m.health == 1 and m.stats.refutes == 1


def test_dead_self_refutes():
    m, _ = lone()
    feed(m, Dead("me", 1, 0, "c"))
    assert (m.get("me").state, m.incarnation) == (ALIVE, 1)


def test_accusation_from_an_older_generation_does_not_bump_incarnation():
    m, _ = lone(generation=5)
    feed(m, Dead("me", 4, 9, "c"), Suspect("me", 4, 9, "c"))
    assert (m.get("me").state, m.incarnation, m.health) == (ALIVE, 0, 0)


def test_alive_about_self_with_higher_incarnation_is_outbid():
    m, _ = lone()
    feed(m, alive("me", inc=4))
    assert m.incarnation == 5


def test_suspect_becomes_dead_after_the_unconfirmed_timeout():
    cfg = MembershipConfig()
    m, _ = lone(config=cfg)
    feed(m, alive("b"), alive("c"), alive("d"), alive("e"))
    feed(m, Suspect("b", 1, 0, "c"), now=1.0)
    _, ceiling = cfg.suspicion_bounds(5)
    m.tick(1.0 + ceiling - 0.01)
    assert m.get("b").state is SUSPECT
    m.tick(1.0 + ceiling + 0.01)
    view = m.get("b")
    assert view.state is DEAD and view.state_since == pytest.approx(1.0 + ceiling + 0.01)
    assert queued(m, "b") == [MsgType.DEAD, "b", 1, 0, "me"]


def test_independent_confirmation_shortens_suspicion_to_the_floor():
    cfg = MembershipConfig()  # suspicion_mult 3: one confirmation expected
    m, _ = lone(config=cfg)
    feed(m, alive("b"), alive("c"), alive("d"), alive("e"))
    feed(m, Suspect("b", 1, 0, "c"), now=1.0)
    feed(m, Suspect("b", 1, 0, "c"), now=1.1)  # same accuser: not independent
    floor, _ = cfg.suspicion_bounds(5)
    m.tick(1.0 + floor + 0.01)
    assert m.get("b").state is SUSPECT
    feed(m, Suspect("b", 1, 0, "d"), now=1.2)
    assert m.next_deadline() == pytest.approx(1.0 + floor)
    m.tick(1.0 + floor + 0.02)
    assert m.get("b").state is DEAD


def test_refuted_suspicion_is_cancelled():
    m, _ = lone()
    feed(m, alive("b"), alive("c"))
    feed(m, Suspect("b", 1, 0, "c"), now=1.0)
    feed(m, alive("b", inc=1), now=1.5)
    m.tick(100.0)
    assert m.get("b").state is ALIVE


def test_dead_message_marks_dead_and_old_dead_is_ignored():
    m, _ = lone()
    feed(m, alive("b", inc=3))
    feed(m, Dead("b", 1, 2, "c"))
    assert m.get("b").state is ALIVE
    feed(m, Dead("b", 1, 3, "c"))
    assert m.get("b").state is DEAD
    assert queued(m, "b")[0] == MsgType.DEAD


def test_alive_after_dead_needs_a_higher_incarnation():
    m, _ = lone()
    feed(m, alive("b", inc=1), Dead("b", 1, 1, "c"))
    feed(m, alive("b", inc=1))
    assert m.get("b").state is DEAD
    feed(m, alive("b", inc=2))
    assert m.get("b").state is ALIVE


def test_remote_dead_is_merged_as_suspect():
    m, _ = lone()
    feed(m, alive("b", inc=1), alive("c"))
    entry = SyncEntry("b", addr("b"), 1, 1, DEAD, 1, NodeRecord("b", addr("b")).raw())
    feed(m, Sync((entry,)))
    assert m.get("b").state is SUSPECT
    unknown = SyncEntry("z", addr("z"), 1, 1, DEAD, 1, NO_RECORD)
    feed(m, Sync((unknown,)))
    assert m.get("z") is None


def test_leave_is_left_not_dead_and_not_resurrected_by_stale_alive():
    m, _ = lone()
    feed(m, alive("b", inc=2))
    feed(m, Left("b", 1, 2))
    assert m.get("b").state is LEFT
    feed(m, alive("b", inc=2), alive("b", inc=1), Dead("b", 1, 2, "c"))
    assert m.get("b").state is LEFT
    entry = SyncEntry("b", addr("b"), 1, 2, ALIVE, 1, NodeRecord("b", addr("b")).raw())
    feed(m, Sync((entry,)))
    assert m.get("b").state is LEFT


def test_restart_with_new_generation_is_alive_again():
    m, _ = lone()
    feed(m, alive("b", inc=9, gen=100), Dead("b", 100, 9, "c"))
    restarted = Alive(
        "b", "10.0.0.9:8765", 200, 0, 1, NodeRecord("b", "10.0.0.9:8765", tier=1).raw()
    )
    feed(m, restarted)
    view = m.get("b")
    assert (view.state, view.generation, view.incarnation) == (ALIVE, 200, 0)
    assert view.address == "10.0.0.9:8765" and view.record.tier == 1
    feed(m, Dead("b", 100, 50, "c"))
    assert m.get("b").state is ALIVE


def test_tombstone_is_reaped_after_timeout():
    cfg = MembershipConfig(tombstone_timeout=10)
    m, _ = lone(config=cfg)
    feed(m, alive("b"), Dead("b", 1, 0, "c"), now=1.0)
    m.tick(10.9)
    assert m.get("b").state is DEAD
    m.tick(11.1)
    assert m.get("b") is None
    assert [v.name for v in m.members()] == ["me"]


def test_graceful_leave_marks_self_left_and_stops_probing():
    m, out = lone()
    feed(m, alive("b"))
    m.leave(0.0)
    assert m.get("me").state is LEFT and m.leaving
    assert queued(m, "me") == [MsgType.LEFT, "me", 1, 0]
    out.sent.clear()
    m.tick(0.5)
    m.tick(0.5 + 10)
    assert m.stats.probes == 0
    feed(m, Suspect("me", 1, 0, "b"))
    assert m.get("me").state is LEFT


def test_on_change_reports_every_transition():
    m, _ = lone()
    seen = []
    m.on_change.append(lambda view, prev: seen.append((view.name, prev, view.state)))
    feed(m, alive("b"), Suspect("b", 1, 0, "c"), alive("b", inc=1), Dead("b", 1, 1, "c"))
    assert seen == [
        ("b", None, ALIVE),
        ("b", ALIVE, SUSPECT),
        ("b", SUSPECT, ALIVE),
        ("b", ALIVE, DEAD),
    ]


def test_a_failing_callback_does_not_break_the_protocol():
    m, _ = lone()
    m.on_change.append(lambda view, prev: 1 / 0)
    feed(m, alive("b"))
    assert m.get("b").state is ALIVE and not m.stats.dropped


def test_stale_suspicion_of_a_refuted_node_is_corrected_directly():
    m, out = lone()
    feed(m, alive("b", inc=1))
    out.sent.clear()
    feed(m, Suspect("b", 1, 0, "c"))
    assert m.get("b").state is ALIVE
    [(to, data)] = out.sent
    assert to == addr("peer")
    msgs = PEER.codec.decode(data).msgs
    assert msgs[0] == alive("b", inc=1)


def test_recordless_alive_about_a_new_node_asks_for_its_record():
    m, out = lone()
    feed(m, Alive("b", addr("b"), 1, 3, 2, NO_RECORD))
    view = m.get("b")
    assert (view.state, view.record, view.record_version) == (ALIVE, None, 0)
    [(to, data)] = out.sent
    assert to == addr("peer") and PEER.codec.decode(data).msgs[0] == Want(("b",))
    feed(m, Sync((SyncEntry("b", addr("b"), 1, 3, ALIVE, 2, NodeRecord("b", addr("b")).raw()),)))
    assert m.get("b").record == NodeRecord("b", addr("b"))


def test_unhealthy_node_scales_its_suspicion_timeout_and_regossips_the_suspicion():
    cfg = MembershipConfig()
    m, _ = lone(config=cfg)
    feed(m, alive("b"), alive("c"), alive("d"), alive("e"))
    feed(m, Suspect("me", 1, 0, "c"), Suspect("me", 1, 1, "c"), Suspect("me", 1, 2, "c"))
    assert m.health == 3
    feed(m, Suspect("b", 1, 0, "c"), now=1.0)
    _, ceiling = cfg.suspicion_bounds(5)
    m.tick(1.0 + ceiling + 0.01)
    assert m.get("b").state is SUSPECT
    assert queued(m, "b") == [MsgType.SUSPECT, "b", 1, 0, "me"]
    m.tick(1.0 + cfg.awareness_max_multiplier * ceiling + 0.01)
    assert m.get("b").state is DEAD


def test_merged_remote_suspicion_is_the_senders_claim_not_our_confirmation():
    m, _ = lone()
    feed(m, alive("b"), alive("c"), alive("d"), alive("e"))
    feed(m, Sync((SyncEntry("b", addr("b"), 1, 0, DEAD, 1, NO_RECORD),)), now=1.0)
    assert m.get("b").state is SUSPECT
    assert queued(m, "b") == [MsgType.SUSPECT, "b", 1, 0, "peer"]
    feed(m, Suspect("b", 1, 0, "peer"), now=1.1)  # the same accuser: no confirmation
    assert queued(m, "b") == [MsgType.SUSPECT, "b", 1, 0, "peer"]
    feed(m, Suspect("b", 1, 0, "c"), now=1.2)
    assert queued(m, "b") == [MsgType.SUSPECT, "b", 1, 0, "c"]


@pytest.mark.parametrize(
    ("claim", "state"), [(Dead("b", 1, 0, "c"), DEAD), (Suspect("b", 1, 0, "c"), SUSPECT)]
)
def test_frame_from_an_accused_peer_tells_it_the_claim_once_per_probe_interval(claim, state):
    m, out = lone()
    b = Forger("b")
    feed(m, alive("b"), alive("c"), claim)
    assert m.get("b").state is state
    out.sent.clear()
    m.receive(b.frame(Ack(99)), 0.0)
    [(to, data)] = out.sent
    told = PEER.codec.decode(data).msgs[0]
    assert to == addr("b") and (type(told), told.name, told.inc, told.by) == (
        type(claim),
        "b",
        0,
        "me",
    )
    m.receive(b.frame(Ack(99)), 0.1)
    assert len(out.sent) == 1
    m.receive(b.frame(Ack(99)), m.config.probe_interval + 0.01)
    assert len(out.sent) == 2


def test_frame_carrying_the_accused_peers_refutation_needs_no_telling():
    m, out = lone()
    feed(m, alive("b"), alive("c"), Suspect("b", 1, 0, "c"))
    out.sent.clear()
    m.receive(Forger("b").frame(alive("b", inc=1)), 0.0)
    assert m.get("b").state is ALIVE and out.sent == []


def test_adopted_members_are_known_alive_and_not_gossiped():
    m, _ = lone()
    m.adopt([alive("b", rv=1, tier=2), alive("c")], 1.0)
    assert m.get("b").state is ALIVE and m.get("b").record.tier == 2
    assert m.get("c").state is ALIVE and m.alive_count() == 3
    assert m._queue.get("b") is None and m._queue.get("c") is None

"""The member table's columns: every field round-trips through a row, members are handles on
rows, ids are shared through a registry, the digest sum follows every change, and adopting a
snapshot leaves a node holding what handling each member's alive message would."""

from __future__ import annotations

import random

import pytest
from support.membership_net import Forger, addr, lone

from harombe.cluster.columns import MemberIds, entry_hash
from harombe.cluster.config import MembershipConfig
from harombe.cluster.members import Member, MemberTable, MemberView
from harombe.cluster.membership import Membership
from harombe.cluster.messages import Alive, PushPull, Summary
from harombe.cluster.pushpull import digest_hash, summary_hash
from harombe.cluster.record import NodeRecord
from harombe.cluster.record_cache import RecordCache
from harombe.cluster.state import MemberState
from harombe.cluster.suspicion import Suspicion

ALIVE, SUSPECT, DEAD = MemberState.ALIVE, MemberState.SUSPECT, MemberState.DEAD


def member(name: str, state: MemberState = ALIVE, gen: int = 1) -> Member:
    return Member(name, addr(name), gen, 0, state, 0.0, NodeRecord(name, addr(name)), 1, 0.0)


def table(*names: str, ids: MemberIds | None = None) -> MemberTable:
    t = MemberTable(member("me"), random.Random(1), ids)
    for name in names:
        t.add(member(name))
    return t


def fields(m: Member) -> tuple:
    return (m.name, m.address, m.gen, m.inc, m.state, m.state_since, m.record, m.rv,
            m.last_update, m.rtt, m.suspicion)  # fmt: skip


def test_every_field_of_a_member_survives_its_move_into_the_table():
    record = NodeRecord("a", addr("a"), tier=3)
    suspicion = Suspicion(4.0, 2, 1.0, 6.0, "b")
    m = Member("a", addr("a"), 2**62, 2**40, SUSPECT, 4.5, record, 9, 3.25, 0.125, suspicion)
    before = fields(m)
    t = table("x")
    t.add(m)
    assert fields(m) == before == fields(t.get("a"))
    assert t.get("a").suspicion is suspicion and t.get("a").record is record


def test_every_field_written_through_one_handle_is_read_through_another():
    t = table("a", "b")
    a = t.get("a")
    suspicion = Suspicion(1.0, 0, 1.0, 2.0, "me")
    a.address, a.gen, a.inc, a.rv = "elsewhere:1", 7, 8, 9
    a.state, a.state_since, a.last_update = DEAD, 11.5, 12.5
    a.record, a.rtt, a.suspicion = None, 0.02, suspicion
    again = t.get("a")
    assert again == a and again is not a and hash(again) == hash(a)
    assert fields(again) == ("a", "elsewhere:1", 7, 8, DEAD, 11.5, None, 9, 12.5, 0.02, suspicion)
    a.rtt = a.suspicion = None
    assert (again.rtt, again.suspicion) == (None, None)
    assert fields(t.get("b")) == fields(member("b"))


def test_handles_on_different_rows_or_tables_differ():
    t, u = table("a", "b"), table("a", "b")
    assert t.get("a") != t.get("b") and t.get("a") != u.get("a") and t.get("a") != "a"
    assert t.get("me") == t.me


def test_a_view_is_a_snapshot_and_a_removed_member_is_gone():
    t = table("a")
    view = t.get("a").view(is_self=False)
    t.get("a").inc = 5
    assert view.incarnation == 0 and t.get("a").view(is_self=False).incarnation == 5
    t.remove(t.get("a"))
    assert t.get("a") is None and "a" not in t and len(t) == 1
    t.add(member("a", gen=3))
    assert t.get("a").gen == 3 and t.get("a").inc == 0 and t.get("a").rtt is None


def test_tables_sharing_a_registry_give_a_name_one_id_and_share_its_strings():
    ids = MemberIds()
    t, u = table("a", "b", ids=ids), table("b", "c", ids=ids)
    assert t.get("b").id == u.get("b").id and len(ids) == 4
    assert t.get("b").address is u.get("b").address
    assert "c" not in t and t.get("c") is None
    assert table("b").get("b").id == 1  # a private registry numbers its own names


def test_iteration_lists_this_node_first_then_peers_in_order_of_arrival():
    t = table("c", "a", "b")
    assert [m.name for m in t] == ["me", "c", "a", "b"]
    assert [m.name for m in t.peers] == ["c", "a", "b"] and t.peers[1].name == "a"


def _digest_sum(t: MemberTable) -> int:
    total = sum(entry_hash(m.name, (m.gen, m.inc, m.state.value, m.rv)) for m in t)
    return total % 2**128


def test_the_digest_sum_follows_adds_changes_and_removals():
    t = table("a", "b", "c")
    assert t.digest_sum() == _digest_sum(t)
    a = t.get("a")
    a.inc, a.state = 3, SUSPECT
    a.inc = 4
    assert t.digest_sum() == _digest_sum(t)
    t.remove(t.get("b"))
    t.get("c").rv = 5
    t.add(member("d"))
    assert t.digest_sum() == _digest_sum(t)
    same = table("d", "c", "a")  # the same members, reached in another order
    same.get("c").rv = 5
    same.get("a").state = SUSPECT
    same.get("a").inc = 4
    assert t.digest_sum() == same.digest_sum() != table("a", "c", "d").digest_sum()
    t.add(member("b"))
    t.get("b").inc = 1
    assert t.digest_sum() == _digest_sum(t)


def _node(name: str, ids: MemberIds, records: RecordCache) -> Membership:
    return Membership(
        MembershipConfig(),
        name=name,
        address=addr(name),
        record=NodeRecord(name, addr(name), models=[f"model-{name}"]),
        send=lambda to, data: None,
        now=5.0,
        generation=1,
        rng=random.Random(name),
        records=records,
        ids=ids,
    )


def test_adopting_a_snapshot_equals_adopting_every_alive_message():
    ids, records = MemberIds(), RecordCache()
    others = [_node(f"n{i}", ids, records) for i in range(12)]
    announcements = [_announcement(n) for n in others]
    source = _node("source", ids, records)
    source.adopt(announcements, 6.0)
    joined, adopter = _node("x", ids, records), _node("x", ids, records)
    joined.adopt([*announcements, _announcement(source)], 6.0)
    adopter.adopt_snapshot(source.snapshot(6.0), 6.0)
    assert _by_name(adopter) == _by_name(joined)
    assert adopter.alive_count() == joined.alive_count() == 14
    a, j = adopter._core.table, joined._core.table
    assert a.digest_sum() == j.digest_sum() == _digest_sum(a)
    assert sorted(a.probe_order) == sorted(j.probe_order) == sorted(m.name for m in j.peers)
    assert a.get("n3").record is j.get("n3").record


def test_only_a_node_that_knows_no_one_else_adopts_a_snapshot():
    ids, records = MemberIds(), RecordCache()
    source = _node("source", ids, records)
    busy = _node("busy", ids, records)
    busy.adopt([_announcement(_node("n0", ids, records))], 5.0)
    with pytest.raises(ValueError, match="knows no other member"):
        busy.adopt_snapshot(source.snapshot(5.0), 5.0)


def test_a_snapshot_holds_only_the_alive_members():
    ids, records = MemberIds(), RecordCache()
    source = _node("source", ids, records)
    source.adopt([_announcement(_node(f"n{i}", ids, records)) for i in range(3)], 5.0)
    source._core.table.get("n1").state = DEAD
    snapshot = source.snapshot(5.0)
    assert len(snapshot) == 3 and "n1" not in snapshot.order


def _announcement(node: Membership) -> Alive:
    me = node.get(node.name)
    assert me is not None and me.record is not None
    return Alive(node.name, node.address, me.generation, me.incarnation, me.record_version,
                 me.record.raw())  # fmt: skip


def _by_name(node: Membership) -> dict[str, MemberView]:
    return {v.name: v for v in node.members()}


def test_a_summary_hash_of_either_kind_that_matches_gets_no_answer():
    m, out = lone()
    peer = Forger("peer")
    table = m._core.table
    m.receive(peer.frame(Summary(1, summary_hash(table.digest_sum()))), 0.0)
    m.receive(peer.frame(Summary(1, digest_hash(table.digest()))), 0.0)  # an older peer's
    assert out.sent == []
    m.receive(peer.frame(Summary(1, summary_hash(table.digest_sum() + 1))), 0.0)
    [(to, data)] = out.sent
    assert to == addr("peer") and isinstance(peer.codec.decode(data).msgs[0], PushPull)

"""The member table on its own: lookups, counts by state, random picks, probe order."""

from __future__ import annotations

import random

from support.membership_net import Parts

from harombe.cluster.members import Member, MemberTable
from harombe.cluster.state import MemberState

ALIVE, SUSPECT, DEAD = MemberState.ALIVE, MemberState.SUSPECT, MemberState.DEAD


def table(*names: str, seed: int = 1) -> MemberTable:
    t = MemberTable(Parts.member("me"), random.Random(seed))
    for name in names:
        t.add(Parts.member(name))
    return t


def test_members_are_found_by_name_and_counted_by_state():
    t = table("a", "b")
    assert len(t) == 3 and "a" in t and t.get("b").name == "b" and t.get("zz") is None
    assert {m.name for m in t} == {"me", "a", "b"} and {m.name for m in t.peers} == {"a", "b"}
    assert t.count(ALIVE) == 3 and t.live == 3
    t.get("a").state = SUSPECT
    t.moved(ALIVE, SUSPECT)
    assert (t.count(ALIVE), t.count(SUSPECT), t.live) == (2, 1, 3)


def test_removing_a_member_keeps_the_peer_list_and_counts_right():
    t = table("a", "b", "c")
    t.remove(t.get("a"))
    assert "a" not in t and {m.name for m in t.peers} == {"b", "c"}
    t.remove(t.get("c"))
    assert [m.name for m in t.peers] == ["b"] and t.count(ALIVE) == 2


def test_every_new_member_enters_the_probe_order():
    t = table(*(f"p{i}" for i in range(20)))
    assert sorted(t.probe_order) == sorted(f"p{i}" for i in range(20))


def test_sample_picks_distinct_members_that_qualify():
    t = table(*(f"p{i}" for i in range(100)))
    for i in range(0, 100, 2):
        t.get(f"p{i}").state = DEAD
    picked = t.sample(3, lambda m: m.state is ALIVE)
    assert len(picked) == 3 == len({m.name for m in picked})
    assert all(int(m.name[1:]) % 2 for m in picked)


def test_sample_returns_fewer_when_few_qualify_and_honours_exclude():
    t = table("a", "b", "c")
    a = t.get("a")
    assert {m.name for m in t.sample(5, lambda m: True, exclude=a)} == {"b", "c"}
    assert t.sample(2, lambda m: False) == []


def test_a_member_view_is_a_snapshot():
    m = Member("a", "a:1", 3, 4, ALIVE, 1.0, None, 0, 1.0)
    view = m.view(is_self=False)
    m.inc = 9
    assert (view.incarnation, view.generation, view.is_self) == (4, 3, False)

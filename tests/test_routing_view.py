"""The routing view over a real membership core: only ALIVE members with a record; joins and
deaths seen at once, load re-read at most every `max_age`."""

from harombe.cluster.config import MembershipConfig
from harombe.cluster.membership import Membership
from harombe.cluster.record import NodeRecord
from harombe.cluster.state import MemberState
from harombe.routing.view import Candidate, MembershipView, StaticView, candidates_from_members


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def membership(active: int = 0) -> Membership:
    record = NodeRecord(
        name="a", address="127.0.0.1:9001", tier=2, models=["m"], loaded=["m"], capacity=3,
        active=active, tps={"m": 42.0}, ttft={"m": 0.3},
    )  # fmt: skip
    return Membership(
        MembershipConfig(), name="a", address="127.0.0.1:9001", record=record,
        send=lambda addr, data: None, now=0.0, generation=1,
    )  # fmt: skip


def test_the_local_member_becomes_the_local_candidate():
    view = MembershipView(membership(), clock=Clock())
    [me] = view.candidates()
    assert me == Candidate(
        name="a", address="127.0.0.1:9001", tier=2, models=["m"], loaded=["m"], capacity=3,
        tps={"m": 42.0}, ttft={"m": 0.3}, rtt=None, is_local=True, state="alive",
        hardware={}, version=me.version,
    )  # fmt: skip


def test_load_is_re_read_only_after_max_age():
    clock = Clock()
    m = membership()
    view = MembershipView(m, max_age=0.1, clock=clock)
    first = view.version
    assert view.version == first  # nothing changed, not old: same version, no re-read
    clock.now = 0.1
    assert view.version == first + 1


def test_a_membership_change_is_seen_at_once():
    clock = Clock()
    m = membership()
    view = MembershipView(m, max_age=100.0, clock=clock)
    before = view.version
    for callback in m.on_change:  # what the core calls when a member's state changes
        callback(m.get("a"), MemberState.SUSPECT)
    assert view.version == before + 1


def test_suspect_dead_and_recordless_members_are_not_candidates():
    m = membership()
    me = m.get("a")
    rows = [
        me,
        me.__class__(**{**vars(me), "name": "s", "state": MemberState.SUSPECT, "is_self": False}),
        me.__class__(**{**vars(me), "name": "d", "state": MemberState.DEAD, "is_self": False}),
        me.__class__(**{**vars(me), "name": "r", "record": None, "is_self": False}),
        me.__class__(**{**vars(me), "name": "ok", "rtt": 0.02, "is_self": False}),
    ]
    out = {c.name: c for c in candidates_from_members(rows)}
    assert set(out) == {"a", "ok"}
    assert out["ok"].rtt == 0.02 and not out["ok"].is_local


def test_static_view_bumps_its_version_on_replace():
    view = StaticView([Candidate("a", "a:1")])
    view.replace([Candidate("b", "b:1")])
    assert view.version == 1 and [c.name for c in view.candidates()] == ["b"]


def member(name: str, state: MemberState, record: NodeRecord, *, is_self: bool = False):
    from harombe.cluster.membership import MemberView

    return MemberView(
        name=name, address=record.address, state=state, incarnation=1, record=record,
        rtt=0.002, state_since=0.0, last_update=0.0, is_self=is_self,
    )  # fmt: skip


def test_sponsored_servers_become_candidates_through_one_sponsor_and_exclusions_apply():
    from harombe.cluster.record import SponsoredNode

    cloud = SponsoredNode("cloud", tier=2, models=["big"], ok=True, kind="openai")
    down = SponsoredNode("cloud", tier=2, models=["big"], ok=False, kind="openai")
    a = NodeRecord("a", "10.0.0.1:8765", sponsored=[down])
    b = NodeRecord("b", "10.0.0.2:8765", sponsored=[cloud], excluded=["c"])
    c = NodeRecord("c", "10.0.0.3:8765")
    members = [
        member("a", MemberState.ALIVE, a),
        member("b", MemberState.SUSPECT, b),
        member("c", MemberState.ALIVE, c),
    ]
    # b is suspect: not a candidate, nor a sponsor, but its exclusion of c still holds.
    [only_a, via_a] = candidates_from_members(members)
    assert only_a.name == "a"
    assert (via_a.name, via_a.address, via_a.via, via_a.backend_ok) == (
        "cloud", "10.0.0.1:8765", "a", False
    )  # fmt: skip

    members[1] = member("b", MemberState.ALIVE, b)
    by_name = {c.name: c for c in candidates_from_members(members)}
    assert set(by_name) == {"a", "b", "cloud"}  # c is excluded
    assert (by_name["cloud"].via, by_name["cloud"].tier) == (
        "b",
        2,
    )  # the sponsor whose check passed
    assert by_name["cloud"].models == ["big"] and not by_name["cloud"].is_local

    members[0] = member("a", MemberState.ALIVE, a, is_self=True)
    by_name = {c.name: c for c in candidates_from_members(members)}
    assert by_name["cloud"].via == "a"  # this peer sponsors it too: served here

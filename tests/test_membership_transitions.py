"""The state machine on its own: new members, suspicion to death, refutation, precedence of
generations, tombstones."""

from __future__ import annotations

from support.membership_net import Parts, addr

from harombe.cluster.codec import Envelope
from harombe.cluster.messages import MAX_UINT, NO_RECORD, Alive, Dead, Left, Suspect
from harombe.cluster.record import NodeRecord
from harombe.cluster.state import MemberState
from harombe.cluster.transitions import StateMachine

ALIVE, SUSPECT, DEAD, LEFT = (
    MemberState.ALIVE,
    MemberState.SUSPECT,
    MemberState.DEAD,
    MemberState.LEFT,
)


def machine(peers=("a", "b", "c")) -> tuple[Parts, StateMachine, list]:
    p = Parts(peers=list(peers))
    changes: list = []
    p.core.on_change.append(lambda view, prev: changes.append((view.name, prev, view.state)))
    return p, StateMachine(p.core, p.out), changes


def env(sender: str = "b") -> Envelope:
    return Envelope(sender, addr(sender), 1, 1, 0.0, [])


def alive(name: str, inc: int = 0, gen: int = 1, rv: int = 1) -> Alive:
    return Alive(name, addr(name), gen, inc, rv, NodeRecord(name, addr(name)).raw())


def test_a_new_member_is_added_announced_and_relayed():
    p, sm, changes = machine()
    sm.handle_alive(env(), alive("n"))
    assert p.core.table.get("n").state is ALIVE and changes == [("n", None, ALIVE)]
    assert p.out.queue.get("n") is not None


def test_a_suspicion_runs_out_into_death_unless_refuted():
    p, sm, changes = machine()
    sm.on_suspect(Suspect("a", 1, 0, "b"))
    assert p.core.table.get("a").state is SUSPECT
    _, ceiling = p.config.suspicion_bounds(p.core.table.live)
    p.advance(ceiling + 0.01)
    assert p.core.table.get("a").state is DEAD
    assert changes == [("a", ALIVE, SUSPECT), ("a", SUSPECT, DEAD)]


def test_a_newer_alive_ends_a_suspicion():
    p, sm, _ = machine()
    sm.on_suspect(Suspect("a", 1, 0, "b"))
    sm.handle_alive(env(), alive("a", inc=1))
    a = p.core.table.get("a")
    assert a.state is ALIVE and a.suspicion is None


def test_an_old_claim_changes_nothing():
    p, sm, changes = machine()
    sm.handle_alive(env(), alive("a", inc=3))
    changes.clear()
    sm.on_suspect(Suspect("a", 1, 2, "b"))
    sm.on_dead(Dead("a", 1, 2, "b"))
    assert p.core.table.get("a").state is ALIVE and changes == []


def test_we_refute_an_accusation_by_raising_our_incarnation():
    p, sm, _ = machine()
    sm.on_suspect(Suspect("me", 1, 0, "b"))
    assert p.core.me.inc == 1 and p.core.me.state is ALIVE
    refutation = p.out.queue.get("me").msg
    assert refutation.inc == 1 and refutation.record == NO_RECORD
    assert p.core.stats.refutes == 1 and p.core.awareness.score == 1


def test_an_accusation_at_the_largest_incarnation_moves_us_to_a_new_generation():
    p, sm, _ = machine()
    sm.on_dead(Dead("me", 1, MAX_UINT, "b"))
    me = p.core.me
    assert (me.gen, me.inc, me.rv, p.core.base_rv) == (2, 0, 1, 1)
    assert p.out.codec.generation == 2 and p.out.queue.get("me").msg.gen == 2


def test_claims_about_an_unseen_generation_are_ignored():
    p, sm, _ = machine()
    sm.on_suspect(Suspect("a", 2, 0, "b"))
    sm.on_dead(Left("a", 2, 0))
    assert p.core.table.get("a").state is ALIVE


def test_a_stale_accusation_is_answered_with_the_newer_alive():
    p, sm, _ = machine()
    sm.handle_alive(env(), alive("a", inc=2))
    p.sent()
    sm.handle_suspect(env("b"), Suspect("a", 1, 1, "b"))
    [(to, [answer, *_])] = p.sent()
    assert to == addr("b") and answer.name == "a" and answer.inc == 2
    assert p.core.table.get("a").state is ALIVE


def test_the_dead_are_reaped_after_the_tombstone_timeout():
    p, sm, _ = machine()
    sm.on_dead(Left("a", 1, 0))
    assert p.core.table.get("a").state is LEFT
    p.advance(p.config.tombstone_timeout + 0.01)
    assert p.core.table.get("a") is None and len(p.core.table) == 3


def test_a_suspect_tells_us_when_it_speaks_to_us():
    p, sm, _ = machine()
    sm.on_suspect(Suspect("a", 1, 0, "b"))
    p.sent()
    sm.tell_accused(env("a"))
    sm.tell_accused(env("a"))
    [(to, [claim, *_])] = p.sent()
    assert to == addr("a") and claim == Suspect("a", 1, 0, "me")


def test_a_newer_load_heard_in_a_whole_record_is_passed_on_as_load_news():
    p, sm, _ = machine()
    busy = Alive("a", addr("a"), 1, 0, 2, NodeRecord("a", addr("a"), active=3).raw())
    sm.handle_alive(None, busy)
    assert p.core.table.get("a").record.active == 3
    assert p.out.queue.get("record:a") is None
    relayed = p.out.loads.get("a").msg
    assert (relayed.rv, relayed.base, relayed.load.active) == (2, 1, 3)


def test_a_newer_record_with_other_changes_is_passed_on_whole():
    p, sm, _ = machine()
    changed = Alive("a", addr("a"), 1, 0, 2, NodeRecord("a", addr("a"), tier=2).raw())
    sm.handle_alive(None, changed)
    assert p.out.queue.get("record:a") is not None and p.out.loads.get("a") is None

"""Several Membership objects on an in-memory network in virtual time."""

from __future__ import annotations

from support.membership_net import Net, lone

from harombe.cluster.config import MembershipConfig
from harombe.cluster.membership import MemberState

ALIVE, SUSPECT, DEAD, LEFT = (
    MemberState.ALIVE,
    MemberState.SUSPECT,
    MemberState.DEAD,
    MemberState.LEFT,
)


def cluster(n: int, *, seed: int = 0, config: MembershipConfig | None = None) -> Net:
    net = Net(config, seed=seed)
    net.add("n0")
    for i in range(1, n):
        net.add(f"n{i}", seeds=["n0"])
    assert net.run_until(net.converged, 10), "cluster did not converge"
    return net


def test_twenty_nodes_joined_through_one_seed_converge_quickly():
    net = Net()
    net.add("n0")
    for i in range(1, 20):
        net.add(f"n{i}", seeds=["n0"])
    assert net.run_until(net.converged, 3.0)
    views = {len(m.members()) for m in net.nodes.values()}
    assert views == {20}


def test_join_retries_until_the_seed_answers():
    net = Net()
    net.add("b", seeds=["a"])  # the seed is not up yet
    net.run(1.5)
    net.add("a")
    assert net.run_until(lambda: net.converged(["a", "b"]), 10)


def test_new_node_is_seen_by_all_through_gossip():
    net = cluster(30)
    net.add("late", seeds=["n7"])
    assert net.run_until(lambda: all(m.get("late") for m in net.nodes.values()), 2.0)


def test_crashed_node_is_declared_dead_by_everyone():
    net = cluster(10)
    net.kill("n3")
    assert net.run_until(
        lambda: all(net.state(m.name, "n3") is DEAD for m in net.nodes.values()), 15
    )


def test_indirect_probe_saves_a_node_whose_direct_path_is_cut():
    net = cluster(6)
    net.cut_link("n1", "n2")
    suspected = []
    for m in net.nodes.values():
        m.on_change.append(
            lambda view, prev, m=m: suspected.append((m.name, view.name, view.state))
        )
    net.run(60)
    n1 = net.nodes["n1.test:8765"]
    assert n1.stats.indirect_probes > 0
    assert [s for s in suspected if s[2] is not ALIVE] == []


def test_false_suspicion_is_refuted_by_the_suspect():
    net = cluster(5)
    n2 = net.nodes["n2.test:8765"]
    for other in ("n0", "n1", "n3", "n4"):
        net.cut_link("n2", other)
    assert net.run_until(lambda: net.state("n0", "n2") is SUSPECT, 10)
    net.cut.clear()
    assert net.run_until(lambda: net.converged(), 10)
    assert n2.incarnation >= 1 and n2.stats.refutes >= 1


def test_graceful_leave_is_seen_as_left_not_dead():
    net = cluster(8)
    leaver = net.nodes["n5.test:8765"]
    leaver.leave(net.now)
    assert net.run_until(lambda: leaver.leave_propagated, 1)
    net.kill("n5")
    assert net.run_until(
        lambda: all(net.state(m.name, "n5") is LEFT for m in net.nodes.values()), 3
    )
    net.run(20)
    assert all(net.state(m.name, "n5") is LEFT for m in net.nodes.values())


def test_restart_with_a_new_generation_is_alive_again():
    net = cluster(6)
    net.kill("n4")
    assert net.run_until(lambda: net.state("n0", "n4") is DEAD, 15)
    net.add("n4", generation=2, seeds=["n1"])
    assert net.run_until(net.converged, 5)
    assert {m.get("n4").generation for m in net.nodes.values()} == {2}


def test_dead_nodes_are_forgotten_after_the_tombstone_timeout():
    net = cluster(4, config=MembershipConfig(tombstone_timeout=20))
    net.kill("n2")
    assert net.run_until(lambda: net.state("n0", "n2") is DEAD, 15)
    assert net.run_until(lambda: all(m.get("n2") is None for m in net.nodes.values()), 25)


def test_no_false_deaths_at_five_percent_loss():
    net = cluster(20, seed=5)
    net.loss = 0.05
    changes = []
    for m in net.nodes.values():
        m.on_change.append(lambda view, prev: changes.append(view.state))
    net.run(120)
    assert DEAD not in changes and LEFT not in changes
    assert net.converged()


def test_push_pull_repairs_a_missed_update():
    net = cluster(5, config=MembershipConfig(pushpull_interval=5))
    a = net.nodes["n0.test:8765"]
    a.update_record(a.get("n0").record.__class__("n0", a.address, tier=2), net.now)
    net.loss = 1.0  # the broadcast is lost everywhere
    net.run(1)
    net.loss = 0.0
    net.run(1)
    a._queue._by_key.clear()
    assert net.run_until(lambda: all(m.get("n0").record.tier == 2 for m in net.nodes.values()), 30)


def test_probe_rtt_is_measured_by_the_observer():
    net = cluster(3)
    net.run(5)
    views = [v for v in net.nodes["n0.test:8765"].members() if not v.is_self]
    assert all(v.rtt is not None for v in views)
    assert net.nodes["n0.test:8765"].get("n0").rtt is None


def test_health_rises_when_nacks_go_missing_and_recovers():
    net = cluster(5)
    n0 = net.nodes["n0.test:8765"]
    for other in ("n1", "n2", "n3", "n4"):
        net.cut_link("n0", other)
    net.run(2)
    assert n0.health >= 2
    net.cut.clear()
    assert net.run_until(lambda: n0.health == 0, 60)


def test_loop_lag_raises_health_at_most_once_per_probe_interval():
    m, _ = lone()
    m.note_loop_lag(0.01)
    assert m.health == 0
    m.note_loop_lag(1.0)
    m.note_loop_lag(1.0)
    assert m.health == 1
    m.tick(m.config.probe_interval)
    m.note_loop_lag(1.0)
    assert m.health == 2


def test_traffic_at_rest_is_small():
    net = cluster(30)
    net.run(30)
    before = sum(m.stats.bytes_sent for m in net.nodes.values())
    net.run(60)
    per_peer = (sum(m.stats.bytes_sent for m in net.nodes.values()) - before) / 30 / 60
    assert per_peer < 1000


def test_flapping_node_declares_no_healthy_peer_dead():
    net = cluster(12, seed=3)
    deaths = []
    for m in net.nodes.values():
        m.on_change.append(
            lambda view, prev, m=m: view.state is DEAD and deaths.append((m.name, view.name))
        )
    others = [f"n{i}" for i in range(12) if i != 5]
    for _ in range(4):
        for other in others:
            net.cut_link("n5", other)
        net.run(3)
        net.cut.clear()
        net.run(3)
    net.run(30)
    assert [d for d in deaths if d[1] != "n5"] == []
    assert net.converged()

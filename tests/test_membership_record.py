"""Node records: wire round trip, validation, quantization and the publish rate limit."""

from __future__ import annotations

import dataclasses

import msgspec
import pytest
from support.membership_net import Forger, Net, addr, as_wire, lone

from harombe.cluster.config import MembershipConfig
from harombe.cluster.messages import Alive, Load, MsgType, Want
from harombe.cluster.record import (
    NodeLoad,
    NodeRecord,
    only_load_changed,
    quantize,
    round_significant,
)
from harombe.cluster.record_cache import RecordCache

PEER = Forger("peer")

FULL = NodeRecord(
    name="gpu-box",
    address="10.0.0.2:8765",
    tier=2,
    models=["qwen2.5:32b", "llama3.2:3b"],
    loaded=["qwen2.5:32b"],
    hardware={"kind": "nvidia", "gpu": "RTX 4090", "vram_gb": 24.0, "ram_gb": 64, "cores": 16},
    capacity=4,
    active=2,
    queue=1,
    tps={"qwen2.5:32b": 38.5},
    ttft={"qwen2.5:32b": 0.21},
    backend_ok=True,
)


def test_record_round_trips_through_msgpack():
    wire = as_wire(FULL.to_wire())
    assert NodeRecord.from_wire(wire) == FULL


def test_unknown_keys_are_ignored_and_defaults_fill_in():
    record = NodeRecord.from_wire({"name": "a", "address": "h:1", "future_field": [1]})
    assert record == NodeRecord("a", "h:1", version="")


@pytest.mark.parametrize(
    "patch",
    [
        {"name": 5},
        {"address": None},
        {"tier": "2"},
        {"tier": -1},
        {"capacity": True},
        {"models": "llama"},
        {"models": [1]},
        {"tps": {"m": "fast"}},
        {"tps": {"m": float("nan")}},
        {"hardware": {"gpu": ["nested"]}},
        {"backend_ok": 1},
        {"name": "x" * 1000},
    ],
)
def test_bad_record_fields_raise_value_error(patch):
    with pytest.raises(ValueError):
        NodeRecord.from_wire({**FULL.to_wire(), **patch})


def test_missing_required_field_raises_value_error():
    with pytest.raises(ValueError, match="name"):
        NodeRecord.from_wire({"address": "h:1"})


def test_quantize_rounds_rates_to_significant_digits():
    record = dataclasses.replace(FULL, tps={"m": 38.54}, ttft={"m": 0.2149})
    q = quantize(record, 2)
    assert (q.tps, q.ttft) == ({"m": 39.0}, {"m": 0.21})
    assert [round_significant(x, 2) for x in (0.0, 1234.0, 0.0001234)] == [0.0, 1200.0, 0.00012]


def test_only_load_changed_tells_load_from_structure():
    assert only_load_changed(FULL, dataclasses.replace(FULL, active=3))
    assert not only_load_changed(FULL, dataclasses.replace(FULL, active=3, loaded=[]))
    assert not only_load_changed(FULL, FULL)


def test_record_must_name_this_node():
    m, _ = lone()
    with pytest.raises(ValueError):
        m.update_record(NodeRecord("other", addr("me")), 0.0)


def record(name: str, **fields) -> NodeRecord:
    return NodeRecord(name, addr(name), **fields)


def test_load_updates_are_rate_limited_and_structural_ones_immediate():
    cfg = MembershipConfig(load_min_interval=1.0)
    m, _ = lone(config=cfg)
    versions = []
    m.on_record.append(lambda view: versions.append((view.record_version, view.record.active)))
    m.update_record(record("me", active=1), 5.0)  # first change after start: publish
    m.update_record(record("me", active=2), 5.2)  # load only, too soon: pending
    m.update_record(record("me", active=3), 5.4)  # replaces the pending one
    assert m.get("me").record.active == 1
    m.tick(5.99)
    assert m.get("me").record.active == 1
    m.tick(6.0)
    assert m.get("me").record.active == 3
    m.update_record(record("me", active=3, models=["new"]), 6.1)  # structural: at once
    assert versions == [(2, 1), (3, 3), (4, 3)]


def test_jitter_below_the_quantum_publishes_nothing():
    m, _ = lone()
    m.update_record(record("me", tps={"m": 40.01}), 5.0)
    version = m.get("me").record_version
    m.update_record(record("me", tps={"m": 40.04}), 10.0)
    assert m.get("me").record_version == version


def test_newest_record_reaches_peers_and_older_is_ignored():
    net = Net()
    a = net.add("a")
    b = net.add("b", seeds=["a"])
    assert net.run_until(net.converged, 5)
    a.update_record(record("a", tier=2, models=["big"]), net.now)
    assert net.run_until(lambda: b.get("a").record.tier == 2, 2)
    assert b.get("a").record_version == a.get("a").record_version


def test_oversized_record_is_refused():
    m, _ = lone(config=MembershipConfig(max_record_bytes=256))
    with pytest.raises(ValueError, match="max_record_bytes"):
        m.update_record(record("me", models=[f"model-{i}" for i in range(50)]), 1.0)
    assert m.get("me").record_version == 1


def test_load_only_change_is_gossiped_as_a_small_load_message():
    m, _ = lone()
    m.update_record(record("me", active=2, queue=1, tps={"m": 40.0}), 5.0)
    item = m._out.loads.get("me")
    assert as_wire(item.msg) == [
        MsgType.LOAD,
        "me",
        1,
        2,
        1,
        [2, 1, {"m": 40.0}, {}, None],  # None: no utilisation sample in this record
    ]
    assert item.size < 40
    assert m.get("me").record_version == 2


def test_change_of_more_than_load_sends_the_whole_record_at_once():
    m, _ = lone()
    m.update_record(record("me", active=2), 5.0)
    m.update_record(record("me", active=2, models=["new"]), 5.1)
    msg = as_wire(m._queue.get("me").msg)
    assert (msg[0], msg[5], msg[6]["models"]) == (MsgType.ALIVE, 3, ["new"])
    m.update_record(record("me", active=1, models=["new"]), 10.0)
    assert as_wire(m._out.loads.get("me").msg)[3:5] == [
        4,
        3,
    ]  # based on the whole record of version 3


def feed(m, *msgs) -> None:
    m.receive(PEER.frame(*msgs), 0.0)


def with_b(**fields):
    m, out = lone()
    feed(m, Alive("b", addr("b"), 1, 0, 1, record("b", tier=2, models=["x"], **fields).raw()))
    out.sent.clear()
    return m, out


def test_load_applies_to_the_record_it_was_based_on_and_is_gossiped():
    m, _ = with_b()
    seen = []
    m.on_record.append(lambda view: seen.append(view.record.active))
    load = Load("b", 1, 2, 1, NodeLoad(3, 1, {"x": 20.0}, {}))
    feed(m, load)
    view = m.get("b")
    assert (view.record.active, view.record.queue, view.record.tps) == (3, 1, {"x": 20.0})
    assert (view.record.tier, view.record.models, view.record_version) == (2, ["x"], 2)
    assert seen == [3]
    assert m._out.loads.get("b").msg == load


@pytest.mark.parametrize(
    "load",
    [
        Load("b", 1, 1, 1, NodeLoad(3, 0, {}, {})),  # not newer than what we hold
        Load("b", 2, 5, 1, NodeLoad(3, 0, {}, {})),  # another generation
        Load("ghost", 1, 5, 1, NodeLoad(3, 0, {}, {})),  # unknown node
        Load("me", 1, 9, 1, NodeLoad(3, 0, {}, {})),  # about ourselves
    ],
)
def test_stale_foreign_or_own_load_is_ignored(load):
    m, out = with_b(active=1)
    feed(m, load)
    assert m.get("b").record.active == 1 and m.get("me").record.active == 0
    assert m._out.loads.get(load.name) is None and out.sent == []


def test_load_on_a_record_change_we_missed_fetches_the_whole_record_from_the_relay():
    m, out = with_b(active=1)
    feed(m, Load("b", 1, 3, 2, NodeLoad(4, 0, {}, {})))
    view = m.get("b")
    assert (view.record.active, view.record_version) == (1, 1)
    [(to, data)] = out.sent
    assert to == addr("peer") and PEER.codec.decode(data).msgs[0] == Want(("b",))


def test_load_updates_reach_every_peer_and_a_structural_change_still_does():
    net = Net()
    a = net.add("a")
    for name in ("b", "c", "d"):
        net.add(name, seeds=["a"])
    assert net.run_until(net.converged, 5)
    a.update_record(record("a", active=2, queue=3), net.now)
    assert net.run_until(lambda: all(m.get("a").record.queue == 3 for m in net.nodes.values()), 2)
    a.update_record(record("a", active=2, queue=3, tier=1), net.now)
    assert net.run_until(lambda: all(m.get("a").record.tier == 1 for m in net.nodes.values()), 2)
    assert {m.get("a").record_version for m in net.nodes.values()} == {3}


def test_record_cache_validates_a_version_once_and_shares_it():
    cache = RecordCache()
    raw = FULL.raw()
    first = cache.decode("gpu-box", 1, 5, raw)
    assert first == FULL
    assert cache.decode("gpu-box", 1, 5, msgspec.Raw(b"\xc1 not checked again")) is first
    with pytest.raises(ValueError, match="another node"):
        cache.decode("other", 1, 5, raw)
    with pytest.raises(ValueError):
        cache.decode("gpu-box", 1, 6, msgspec.Raw(msgspec.msgpack.encode({"name": "gpu-box"})))
    with pytest.raises(ValueError):
        cache.decode("gpu-box", 1, 7, msgspec.Raw(b"\xc1"))
    del first
    assert cache.get("gpu-box", 1, 5) is None  # nobody holds it any more


def test_a_record_version_we_hold_is_not_decoded_again():
    m, _ = with_b()
    held = m.get("b").record
    broken = [MsgType.ALIVE, "b", addr("b"), 1, 1, 1, {"name": "b", "tier": "not checked"}]
    m.receive(PEER.raw(broken), 0.0)
    assert not m.stats.dropped and m.get("b").record is held and m.get("b").incarnation == 1


def test_a_malformed_newer_record_spoils_the_whole_frame():
    m, out = with_b()
    bad = [MsgType.ALIVE, "b", addr("b"), 1, 1, 2, {"name": "b", "address": addr("b"), "tier": -1}]
    m.receive(PEER.raw([MsgType.PING, 3, "me"], bad), 0.0)
    assert m.stats.dropped == {"malformed": 1} and out.sent == []
    assert m.get("b").record_version == 1 and m.get("b").incarnation == 0


def test_members_sharing_a_record_cache_hold_one_copy_of_each_record():
    net = Net()
    cache = RecordCache()
    a = net.add("a", records=cache)
    b = net.add("b", seeds=["a"], records=cache)
    c = net.add("c", seeds=["a"], records=cache)
    assert net.run_until(net.converged, 5)
    assert b.get("c").record is a.get("c").record is c.get("c").record
    c.update_record(record("c", tier=1), net.now)
    assert net.run_until(lambda: a.get("c").record.tier == b.get("c").record.tier == 1, 5)
    assert b.get("c").record is a.get("c").record is c.get("c").record

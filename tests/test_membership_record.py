"""Node records: wire round trip, validation, quantization and the publish rate limit."""

from __future__ import annotations

import dataclasses

import msgpack
import pytest
from membership_net import Net, addr, lone

from harombe.cluster.config import MembershipConfig
from harombe.cluster.record import NodeRecord, only_load_changed, quantize, round_significant

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
    wire = msgpack.unpackb(msgpack.packb(FULL.to_wire()))
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

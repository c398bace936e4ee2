"""Gossip frames built to hurt: nested deep, numbers past their bounds, claims that cannot be
outbid. Each is dropped and counted, logged once per interval, and pushes no one out."""

from __future__ import annotations

import logging

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.membership_net import KEY, Forger, Net, addr, lone

from harombe.cluster.codec import PROTOCOL_VERSION
from harombe.cluster.config import MembershipConfig
from harombe.cluster.membership import MemberState
from harombe.cluster.messages import MAX_UINT, Alive, Dead, MsgType, Ping, Suspect
from harombe.cluster.record import NodeRecord

GOOD = Alive("b", addr("b"), 1, 0, 1, NodeRecord("b", addr("b")).raw())
DEEP = b"\x91" * 100_000 + b"\xc0"
BIG_FRAMES = MembershipConfig(max_frame_bytes=256 * 1024)
"""Room for a 100,000-deep frame (the default size bound alone drops it as oversized)."""


def wire_frame(payload: list | bytes, *, mac: bytes | None = None) -> bytes:
    body = payload if isinstance(payload, bytes) else msgspec.msgpack.encode(payload)
    return msgspec.msgpack.encode([PROTOCOL_VERSION, "harombe", body, mac])


def payload(msgs: list) -> list:
    return ["b", addr("b"), 1, 1, 0.0, msgs]


def alive_bytes(record: bytes) -> bytes:
    """An Alive from b carrying `record` verbatim (its record is Raw on decode)."""
    enc = msgspec.msgpack.encode
    return b"\x97" + b"".join(enc(v) for v in (MsgType.ALIVE, "b", addr("b"), 1, 0, 1)) + record


def alive_with_record_bytes(record: bytes) -> bytes:
    """A payload whose one message is alive_bytes(record)."""
    head = b"\x96" + b"".join(msgspec.msgpack.encode(v) for v in ("b", addr("b"), 1, 1, 0.0))
    return head + b"\x91" + alive_bytes(record)


def tracebacks(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info]


def test_a_frame_nested_100000_deep_is_dropped(caplog):
    m, out = lone(config=BIG_FRAMES)
    m.receive(b"\x94" + DEEP + b"\xc0\xc0\xc0", 1.0)  # the outer layout is fixed: not a frame
    m.receive(wire_frame(alive_with_record_bytes(DEEP)), 1.0)  # deep inside a record
    assert m.stats.dropped == {"malformed": 1, "too_deep": 1}
    assert m.get("b") is None and out.sent == [] and not tracebacks(caplog)


def test_a_signed_frame_nested_deep_is_dropped_too():
    m, _ = lone(keyring=[KEY], config=BIG_FRAMES)
    forger = Forger("b", keyring=[KEY], config=BIG_FRAMES)
    data = forger.codec.encode([msgspec.Raw(alive_bytes(DEEP))])
    m.receive(data, 0.0)
    assert m.stats.dropped == {"too_deep": 1}


def test_a_deeply_nested_record_is_invalid_not_an_error():
    with pytest.raises(ValueError, match="nested too deep"):
        NodeRecord.from_raw(msgspec.Raw(DEEP))


def test_a_record_nested_20_deep_is_a_malformed_frame():
    m, _ = lone()
    nested = b"\x91" * 20 + b"\xc0"
    m.receive(wire_frame(alive_with_record_bytes(nested)), 1.0)
    assert m.stats.dropped == {"malformed": 1}


def test_numbers_past_their_bound_are_dropped_as_out_of_range(caplog):
    m, out = lone()
    for number in (2**64 - 1, MAX_UINT + 1):
        m.receive(wire_frame(payload([[MsgType.ALIVE, "b", addr("b"), 1, number, 1, None]])), 1)
        m.receive(wire_frame(payload([[MsgType.SUSPECT, "me", 1, number, "b"]])), 1.0)
        m.receive(wire_frame(["b", addr("b"), number, 1, 0.0, [[MsgType.ACK, 1]]]), 1.0)
    m.receive(wire_frame(["b", addr("b"), 1, 1, float("nan"), [[MsgType.ACK, 1]]]), 1.0)
    m.receive(wire_frame(["b", addr("b"), 1, 1, float("inf"), [[MsgType.ACK, 1]]]), 1.0)
    assert m.stats.dropped == {"out_of_range": 8}
    assert m.get("b") is None and m.incarnation == 0 and out.sent == []
    assert not tracebacks(caplog)


def test_the_largest_incarnation_is_accepted():
    m, _ = lone()
    m.receive(Forger("b").frame(Alive("b", addr("b"), 1, MAX_UINT, 1, GOOD.record)), 1.0)
    view = m.get("b")
    assert view is not None and view.incarnation == MAX_UINT and not m.stats.dropped


def test_an_accusation_that_cannot_be_outbid_moves_the_member_to_a_new_generation():
    m, out = lone()
    m.receive(Forger("b").frame(GOOD, Dead("me", 1, MAX_UINT, "b")), 1.0)
    me = m.get("me")
    assert me is not None and me.state is MemberState.ALIVE
    assert (me.generation, me.incarnation) == (2, 0) and me.record is not None
    m.tick(2.0)
    assert out.sent, "the new generation is announced"


def test_an_alive_about_us_at_the_largest_record_version_moves_us_on_too():
    m, _ = lone()
    m.receive(Forger("b").frame(Alive("me", addr("me"), 1, 0, MAX_UINT, GOOD.record)), 1.0)
    me = m.get("me")
    assert me is not None and me.generation == 2 and me.record_version == 1


def test_claims_about_a_generation_never_seen_alive_are_ignored():
    m, _ = lone()
    forger = Forger("b")
    c_record = NodeRecord("c", addr("c")).raw()
    m.receive(forger.frame(GOOD, Alive("c", addr("c"), 5, 0, 1, c_record)), 1.0)
    m.receive(forger.frame(Suspect("c", 6, 0, "b"), Dead("me", 9, 0, "b")), 1.0)
    c, me = m.get("c"), m.get("me")
    assert c is not None and me is not None
    assert (c.state, c.generation) == (MemberState.ALIVE, 5)
    assert (me.state, me.generation) == (MemberState.ALIVE, 1)


def test_one_hostile_frame_pushes_no_member_out_of_the_cluster():
    net = Net(MembershipConfig(probe_interval=0.5), seed=4)
    for name, seeds in (("a", ()), ("b", ("a",)), ("c", ("a",))):
        net.add(name, seeds=seeds)
    assert net.run_until(net.converged, 20.0)
    net.nodes[addr("a")].receive(Forger("x").frame(Dead("c", 1, MAX_UINT, "x")), net.now)
    assert net.run_until(net.converged, 20.0)
    net.run(10.0)
    assert net.converged()
    assert all(n.get("c").generation == 2 for n in net.nodes.values())


def test_dropped_frames_are_logged_once_per_interval_with_counts_by_reason(caplog):
    m, _ = lone(config=BIG_FRAMES.model_copy(update={"drop_log_interval": 60.0}))
    with caplog.at_level(logging.WARNING, logger="harombe.cluster.membership"):
        for i in range(1000):
            m.receive(wire_frame(alive_with_record_bytes(DEEP)), i / 100)
            m.receive(b"", i / 100)
        m.receive(b"", 61.0)
    lines = [r.getMessage() for r in caplog.records]
    assert m.stats.dropped == {"too_deep": 1000, "malformed": 1001}
    assert len(lines) == 2, lines
    assert lines[0].startswith("1 membership frames dropped (too_deep)")
    assert lines[1].startswith(
        "1001 membership frames dropped (malformed), 999 membership frames dropped (too_deep)"
    )
    assert not tracebacks(caplog)


def _values():
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**63), max_value=2**64 - 1)
        | st.floats()
        | st.text(max_size=20)
        | st.binary(max_size=20)
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=40,
    )


MESSAGE = st.tuples(st.sampled_from([int(t) for t in MsgType]), _values()).map(
    lambda t: [t[0], *(t[1] if isinstance(t[1], list) else [t[1]])]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=200),
        _values().map(msgspec.msgpack.encode),
        st.lists(MESSAGE, max_size=4).map(lambda msgs: wire_frame(payload(msgs))),
        _values().map(lambda v: wire_frame(payload([[MsgType.ALIVE, "b", addr("b"), 1, 0, 1, v]]))),
    )
)
def test_fuzzed_frames_never_raise_and_are_handled_or_counted(data):
    m, _ = lone()
    m.receive(data, 1.0)
    m.receive(Forger("c").frame(Ping(1, "me")), 1.0)
    assert "internal_error" not in m.stats.dropped
    assert m.stats.frames_received == 2

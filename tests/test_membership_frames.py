"""Hostile and broken frames are dropped, counted by reason, and change nothing."""

from __future__ import annotations

import msgspec
import pytest
from support.membership_net import KEY, Forger, addr, lone

from harombe.cluster.codec import PROTOCOL_VERSION
from harombe.cluster.config import MembershipConfig
from harombe.cluster.messages import Alive, MsgType, Ping
from harombe.cluster.record import NodeRecord

GOOD = Alive("b", addr("b"), 1, 0, 1, NodeRecord("b", addr("b")).raw())


def snapshot(m):
    return [(v.name, v.state, v.incarnation, v.record) for v in m.members()]


def wire_frame(payload: list, *, version=PROTOCOL_VERSION, label="harombe", mac=None) -> bytes:
    return msgspec.msgpack.encode([version, label, msgspec.msgpack.encode(payload), mac])


def payload(msgs: list) -> list:
    return ["b", addr("b"), 1, 1, 0.0, msgs]


BAD_FRAMES = {
    "garbage": (b"\x93\xff\x00garbage", "malformed"),
    "empty": (b"", "malformed"),
    "truncated": (Forger("b").frame(GOOD)[:-7], "malformed"),
    "not a list": (msgspec.msgpack.encode({"v": 1}), "malformed"),
    "payload not bytes": (msgspec.msgpack.encode([1, "harombe", "text", None]), "malformed"),
    "payload garbage": (msgspec.msgpack.encode([1, "harombe", b"\xc1\xc1", None]), "malformed"),
    "bad version": (wire_frame(payload([GOOD]), version=99), "bad_version"),
    "wrong label": (Forger("b", label="other").frame(GOOD), "wrong_label"),
    "unknown type": (wire_frame(payload([[99, 1]])), "unknown_type"),
    "seq is a string": (wire_frame(payload([[MsgType.PING, "1", "me"]])), "malformed"),
    "bool for int": (wire_frame(payload([[MsgType.ACK, True]])), "malformed"),
    "negative seq": (wire_frame(payload([[MsgType.ACK, -1]])), "malformed"),
    "missing field": (wire_frame(payload([[MsgType.ALIVE, "b", addr("b"), 1, 0]])), "malformed"),
    "record wrong type": (
        wire_frame(
            payload([[MsgType.ALIVE, "b", addr("b"), 1, 0, 1, {"name": "b", "address": 3}]])
        ),
        "malformed",
    ),
    "record of another node": (
        wire_frame(
            payload([[MsgType.ALIVE, "b", addr("b"), 1, 0, 1, NodeRecord("c", "x").to_wire()]])
        ),
        "malformed",
    ),
    "load with a bad count": (
        wire_frame(payload([[MsgType.LOAD, "b", 1, 2, 1, [-1, 0, {}, {}]]])),
        "malformed",
    ),
    "load based on a newer version": (
        wire_frame(payload([[MsgType.LOAD, "b", 1, 2, 3, [1, 0, {}, {}]]])),
        "malformed",
    ),
    "load of 3 fields": (
        wire_frame(payload([[MsgType.LOAD, "b", 1, 2, 1, [1, 0, {}]]])),
        "malformed",
    ),
    "no messages": (wire_frame(payload([])), "malformed"),
    "sender not a string": (wire_frame([1, addr("b"), 1, 1, 0.0, [GOOD]]), "malformed"),
    "mac without keyring": (
        wire_frame(payload([GOOD]), mac=b"x" * 32),
        "unauthenticated",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_FRAMES))
def test_bad_frame_is_dropped_with_reason(name):
    data, reason = BAD_FRAMES[name]
    m, out = lone()
    before = snapshot(m)
    m.receive(data, 1.0)
    assert m.stats.dropped == {reason: 1}
    assert snapshot(m) == before and out.sent == []


def test_a_bad_message_spoils_the_whole_frame():
    m, _ = lone()
    m.receive(wire_frame(payload([GOOD, [MsgType.ACK, "x"]])), 1.0)
    assert m.get("b") is None and m.stats.dropped == {"malformed": 1}


def test_oversized_frame_is_dropped_before_decoding():
    cfg = MembershipConfig(max_frame_bytes=4096)
    m, _ = lone(config=cfg)
    m.receive(b"\xff" * 4097, 1.0)
    assert m.stats.dropped == {"oversized": 1}


def test_too_many_messages_is_malformed():
    cfg = MembershipConfig(max_frame_messages=4)
    m, _ = lone(config=cfg)
    m.receive(wire_frame(payload([[MsgType.ACK, i] for i in range(5)])), 1.0)
    assert m.stats.dropped == {"malformed": 1}


def test_frames_from_our_own_name_are_dropped():
    m, _ = lone()
    m.receive(Forger("me").frame(GOOD), 1.0)
    assert m.get("b") is None and m.stats.dropped == {"from_self": 1}


def test_keyed_cluster_accepts_signed_frames_and_answers_signed():
    m, out = lone(keyring=[KEY])
    m.receive(Forger("b", keyring=[KEY]).frame(GOOD, Ping(7, "me")), 0.0)
    assert m.get("b") is not None and not m.stats.dropped
    assert out.sent
    mac = msgspec.msgpack.decode(out.sent[0][1])[3]
    assert isinstance(mac, bytes) and len(mac) == 32


@pytest.mark.parametrize(
    "sender_keys",
    [(), (b"wrong" * 8,)],
    ids=["unsigned", "wrong key"],
)
def test_keyed_cluster_drops_unauthenticated_frames(sender_keys):
    m, out = lone(keyring=[KEY])
    m.receive(Forger("b", keyring=sender_keys).frame(GOOD, Ping(7, "me")), 0.0)
    assert m.get("b") is None and out.sent == []
    assert m.stats.dropped == {"unauthenticated": 1}


def test_tampered_payload_fails_authentication():
    m, _ = lone(keyring=[KEY])
    version, label, body, mac = msgspec.msgpack.decode(Forger("b", keyring=[KEY]).frame(GOOD))
    body = body.replace(b"b.test", b"x.test")
    m.receive(msgspec.msgpack.encode([version, label, body, mac]), 0.0)
    assert m.stats.dropped == {"unauthenticated": 1}


def test_key_rotation_accepts_any_key_in_the_ring():
    new, old = b"n" * 32, KEY
    m, _ = lone(keyring=[new, old])
    m.receive(Forger("b", keyring=[old]).frame(GOOD), 0.0)
    m.receive(Forger("c", keyring=[new]).frame(GOOD), 0.0)
    assert not m.stats.dropped


def test_replayed_frame_is_dropped():
    m, _ = lone(keyring=[KEY])
    data = Forger("b", keyring=[KEY]).frame(GOOD)
    m.receive(data, 0.0)
    m.receive(data, 0.1)
    assert m.stats.dropped == {"replayed": 1}


def test_stale_frame_is_dropped():
    clock = {"t": 1000.0}
    m, _ = lone(keyring=[KEY], wall_clock=lambda: clock["t"])
    data = Forger("b", keyring=[KEY], wall=lambda: 1000.0).frame(GOOD)
    clock["t"] = 1000.0 + MembershipConfig().replay_window + 1
    m.receive(data, 0.0)
    assert m.get("b") is None and m.stats.dropped == {"stale": 1}


def test_receive_never_raises_on_random_bytes():
    import random

    rng = random.Random(3)
    m, _ = lone()
    good = Forger("b").frame(GOOD)
    for _ in range(500):
        data = bytearray(good)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        m.receive(bytes(data), 0.0)
    assert sum(m.stats.dropped.values()) + (m.get("b") is not None) >= 1
    assert "internal_error" not in m.stats.dropped

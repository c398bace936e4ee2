"""Membership over real websockets: peers in one process, each on its own aiohttp server on
127.0.0.1, joined by seeds, with the fast `local` timings."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import msgspec
import pytest
from aiohttp import WSCloseCode, WSMsgType
from support.cluster_harness import Cluster, eventually

from harombe.cluster.codec import PROTOCOL_VERSION
from harombe.cluster.membership import MemberState
from harombe.cluster.ws_transport import DropReason

KEY = b"cluster key for the tests"


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    cluster = Cluster()
    yield cluster
    await cluster.close()


@pytest.fixture
async def keyed_cluster() -> AsyncIterator[Cluster]:
    cluster = Cluster(keyring=[KEY])
    yield cluster
    await cluster.close()


async def test_eight_peers_all_see_all(cluster):
    peers = await cluster.start(8)
    for peer in peers:
        assert peer.membership.alive_count() == 8
        assert peer.transport.stats.dropped == {}
        assert peer.membership.stats.dropped == {}


async def test_a_vanished_peer_is_dead_to_all_and_alive_again_after_a_restart(cluster):
    peers = await cluster.start(6)
    victim = peers[3]
    await cluster.stop(victim, leave=False)
    await cluster.agree(victim.name, "dead")
    back = await cluster.restart(victim)
    await cluster.converged()
    assert back.address == victim.address
    assert all(
        p.membership.get(victim.name).generation == back.membership.generation
        for p in cluster.peers
    )


async def test_a_leaving_peer_is_left_not_dead(cluster):
    peers = await cluster.start(5)
    leaver = peers[1]
    await cluster.stop(leaver, leave=True)
    await cluster.agree(leaver.name, "left")


async def test_a_peer_with_the_wrong_key_is_never_admitted(keyed_cluster):
    peers = await keyed_cluster.start(4)
    sightings: list[tuple[str, str]] = []
    for peer in peers:
        peer.membership.on_change.append(
            lambda view, _old, peer=peer: (
                view.name == "intruder" and sightings.append((peer.name, view.state.label))
            )
        )
    intruder = await keyed_cluster.start_peer(
        "intruder", seeds=[peers[0].address], keyring=[b"not the cluster key"]
    )
    await eventually(
        lambda: peers[0].membership.stats.dropped["unauthenticated"] >= 2,
        what="the intruder's join retries are refused",
    )
    assert sightings == []
    assert all(p.membership.get("intruder") is None for p in peers)
    assert intruder.membership.alive_count() == 1


async def test_hostile_frames_are_dropped_and_counted_and_the_peer_keeps_working(keyed_cluster):
    peers = await keyed_cluster.start(5)
    target = peers[2]
    replay = target.received[-1]
    before_core = Counter(target.membership.stats.dropped)
    hostile = {
        b"\xc1 not msgpack at all": "malformed",
        replay[: len(replay) // 2]: "malformed",
        msgspec.msgpack.encode({"a": "map, not the envelope list"}): "malformed",
        msgspec.msgpack.encode(["1", keyed_cluster.label, b"x", None]): "malformed",
        msgspec.msgpack.encode(
            [PROTOCOL_VERSION, keyed_cluster.label, "text payload", b""]
        ): "malformed",
        msgspec.msgpack.encode(
            [PROTOCOL_VERSION + 98, keyed_cluster.label, b"x", None]
        ): "bad_version",
        msgspec.msgpack.encode([PROTOCOL_VERSION, "another-cluster", b"x", None]): "wrong_label",
        msgspec.msgpack.encode([PROTOCOL_VERSION, keyed_cluster.label, b"x", b"\0" * 32]): (
            "unauthenticated"
        ),
        replay: "replayed",
    }
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(target.ws_url) as ws:
            await ws.send_str("text frames are not spoken here")
            for frame in hostile:
                await ws.send_bytes(frame)
            await ws.send_bytes(b"\0" * (keyed_cluster.config.max_frame_bytes + 1))
            closing = await ws.receive()
    assert closing.type is WSMsgType.CLOSE and closing.data == WSCloseCode.MESSAGE_TOO_BIG

    expected = Counter(hostile.values())
    await eventually(
        lambda: Counter(target.membership.stats.dropped) - before_core == expected,
        what=f"core drops {dict(expected)}",
    )
    assert target.transport.stats.dropped[DropReason.TEXT_FRAME] == 1
    assert target.transport.stats.dropped[DropReason.OVERSIZED] == 1

    probes = {p.name: p.membership.stats.probes for p in peers}
    await eventually(
        lambda: all(p.membership.stats.probes >= probes[p.name] + len(peers) for p in peers),
        what="every peer has probed every other one since",
    )
    await keyed_cluster.converged()
    newcomer = await keyed_cluster.start_peer("newcomer", seeds=[target.address])
    await keyed_cluster.converged()
    assert newcomer.membership.alive_count() == len(peers) + 1


async def test_every_view_names_every_member_at_its_address(cluster):
    peers = await cluster.start(5)
    addresses = {p.name: p.address for p in peers}
    for peer in peers:
        views = peer.membership.members()
        assert {v.name: v.address for v in views} == addresses
        assert [v.name for v in views if v.is_self] == [peer.name]
        assert {v.state for v in views} == {MemberState.ALIVE}

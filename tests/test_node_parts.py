"""The parts a peer is assembled from (harombe/node/), each on its own: membership on the
running loop, how routing reaches another node, the listening socket."""

from __future__ import annotations

import asyncio
import random

import aiohttp
from support.cluster_harness import eventually

from harombe.api.peer_auth import RequestSigner, RequestVerifier
from harombe.cluster.config import MembershipConfig
from harombe.cluster.record import NodeRecord
from harombe.config import SeedNode
from harombe.inference.peer import PeerBackend
from harombe.node.app import request_verifier
from harombe.node.connect import PeerConnector, request_signer
from harombe.node.gossip import Gossip
from harombe.node.listen import advertise_host, bind_socket
from harombe.routing.view import Candidate
from harombe.sponsored import LentBackend, SponsoredNodes, SponsoredPeerBackend
from sim.fake_openai import FakeOpenAI

KEY = b"k" * 32


class LoopNet:
    """Frames delivered with loop.call_soon to the Gossip at their address."""

    def __init__(self) -> None:
        self.peers: dict[str, Gossip] = {}

    def send(self, to: str, data: bytes) -> None:
        if to in self.peers:
            asyncio.get_running_loop().call_soon(self._deliver, to, data)

    def _deliver(self, to: str, data: bytes) -> None:
        if to in self.peers:
            self.peers[to].receive(data)

    def gossip(self, name: str) -> Gossip:
        loop = asyncio.get_running_loop()
        address = f"10.0.0.{len(self.peers) + 1}:8765"
        peer = self.peers[address] = Gossip(
            MembershipConfig.local(),
            name=name,
            address=address,
            record=NodeRecord(name, address),
            send=self.send,
            clock=loop.time,
            generation=1,
            rng=random.Random(name),
        )
        return peer


def _state(observer: Gossip, name: str) -> str | None:
    member = observer.membership.get(name)
    return member.state.label if member else None


async def test_gossip_joins_publishes_a_record_and_leaves() -> None:
    net = LoopNet()
    a, b = net.gossip("a"), net.gossip("b")
    a.start()
    b.start(["10.0.0.1:8765"])
    await eventually(lambda: _state(a, "b") == "alive" and _state(b, "a") == "alive")

    b.publish(NodeRecord("b", "10.0.0.2:8765", tier=2, models=["m"]))
    await eventually(lambda: (r := a.membership.get("b").record) and r.models == ["m"])
    assert a.membership.get("b").record.tier == 2

    await b.stop(leave=True)
    await eventually(lambda: _state(a, "b") == "left", what="a sees b left")
    await a.stop(leave=False)


def _candidate(name: str, via: str | None = None) -> Candidate:
    return Candidate(name, "127.0.0.1:9", tier=0, models=["m"], via=via)


async def test_a_connector_reaches_peers_sponsors_and_its_own_plain_servers() -> None:
    async with FakeOpenAI("plain-model") as plain, aiohttp.ClientSession() as session:
        port = int(plain.url.rsplit(":", 1)[1])
        listed = SeedNode(name="box", host="127.0.0.1", port=port, kind="openai")
        sponsored = SponsoredNodes(
            [listed], session=session, interval=60.0, check_timeout=5.0, backend_timeout=5.0
        )
        await sponsored.start()
        try:
            signer = request_signer([KEY], "me")
            connect = PeerConnector(
                session, "me", signer, timeout=7.0, scheme="https", sponsored=sponsored
            )

            peer = connect(_candidate("other"))
            assert type(peer) is PeerBackend
            assert peer.base_url == "https://127.0.0.1:9"
            assert peer._destination == "other"

            theirs = connect(_candidate("their-box", via="sponsor"))
            assert isinstance(theirs, SponsoredPeerBackend)
            assert (theirs.node, theirs._destination) == ("their-box", "sponsor")

            mine = connect(_candidate("box", via="me"))
            assert isinstance(mine, LentBackend)
            assert [m.name for m in await mine.list_models()] == ["plain-model"]
        finally:
            await sponsored.aclose()


def test_signing_and_checking_need_a_key() -> None:
    assert request_signer([], "me") is None
    assert request_verifier([], "me") is None
    assert isinstance(request_signer([KEY], "me"), RequestSigner)
    assert isinstance(request_verifier([KEY], "me", aliases=["127.0.0.1:1"]), RequestVerifier)


def test_a_socket_bound_on_port_zero_listens_on_a_real_port() -> None:
    sock = bind_socket("127.0.0.1", 0)
    try:
        assert sock.getsockname()[1] > 0
    finally:
        sock.close()
    assert advertise_host("127.0.0.1", None) == "127.0.0.1"
    assert advertise_host("0.0.0.0", "peer.example") == "peer.example"

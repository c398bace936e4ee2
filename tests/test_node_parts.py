"""The parts a peer is assembled from (harombe/node/), each on its own: membership on the
running loop, how routing reaches another node, the listening socket, the gossiped record, the
rows of /cluster/status and discovery through seeds."""

from __future__ import annotations

import ast
import asyncio
import random
from pathlib import Path

import aiohttp
from support.api_harness import MODEL, ScriptedBackend
from support.cli_support import node_config
from support.cluster_harness import eventually

from harombe.api.peer_auth import RequestSigner, RequestVerifier
from harombe.cluster.config import MembershipConfig
from harombe.cluster.record import NodeRecord
from harombe.config import SeedNode
from harombe.drain import Drain
from harombe.inference.http1 import HttpClient
from harombe.inference.peer import PeerBackend
from harombe.inference.stats import MeasuredBackend
from harombe.inference.types import BackendError, ModelInfo
from harombe.node import gossip as gossip_module
from harombe.node.app import request_verifier
from harombe.node.connect import PeerConnector, request_signer
from harombe.node.discovery import Discovery
from harombe.node.gossip import Gossip
from harombe.node.listen import advertise_host, bind_socket
from harombe.node.record import LocalRecord, ServedModels
from harombe.node.status import cluster_status
from harombe.routing.view import Candidate
from harombe.sponsored import LentBackend, SponsoredNodes, SponsoredPeerBackend
from harombe.utilisation import Probe, UtilisationSampler
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
        address = f"127.0.0.1:{len(self.peers) + 1}"  # never dialled
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
    b.start(["127.0.0.1:1"])
    await eventually(lambda: _state(a, "b") == "alive" and _state(b, "a") == "alive")

    b.publish(NodeRecord("b", "127.0.0.1:2", tier=2, models=["m"]))
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
            http = HttpClient(connect_timeout=7.0)
            connect = PeerConnector(
                session, http, "me", signer, timeout=7.0, scheme="https", sponsored=sponsored
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


class BrokenListing(ScriptedBackend):
    async def list_models(self) -> list[ModelInfo]:
        raise BackendError("connection refused", status=502)


def local_record(backend: ScriptedBackend, **sections: dict[str, object]) -> LocalRecord:
    config = node_config("here", tier=1, **sections)
    return LocalRecord(
        config,
        address="127.0.0.1:1",
        served=ServedModels(MeasuredBackend(backend), config.backend),
        hardware=None,
        sampler=UtilisationSampler(Probe(), interval=60.0),
        sponsored=None,
        drain=Drain(),
    )


async def test_the_record_carries_what_the_backend_serves_once_it_answers() -> None:
    record = local_record(ScriptedBackend(), node={"capacity": 3})
    before = record.build()
    assert (before.name, before.tier, before.capacity) == ("here", 1, 3)
    assert (before.models, before.backend_ok) == ([], False)

    await record.served.refresh()
    after = record.build()
    assert (after.models, after.loaded, after.backend_ok) == ([MODEL], [MODEL], True)
    assert (after.ctx, after.tool_models) == ({MODEL: 8192}, [MODEL])


async def test_a_backend_that_cannot_list_its_models_is_gossiped_as_down() -> None:
    record = local_record(BrokenListing())
    await record.served.refresh()
    assert record.build().backend_ok is False


def test_excluded_nodes_travel_in_the_record_until_readmitted() -> None:
    record = local_record(ScriptedBackend(), cluster={"excluded": ["old"]})
    record.exclude("bad", True)
    assert record.build().excluded == ["bad", "old"]
    record.exclude("old", False)
    record.exclude("never-excluded", False)
    assert record.build().excluded == ["bad"]
    record.drain.begin()  # a draining peer excludes itself
    assert record.build().excluded == ["bad", "here"]


async def test_status_rows_show_each_member_with_its_breaker_and_no_stale_utilisation() -> None:
    net = LoopNet()
    a, b = net.gossip("a"), net.gossip("b")
    a.start()
    b.start(["127.0.0.1:1"])
    await eventually(lambda: _state(a, "b") == "alive")
    b.publish(NodeRecord("b", "127.0.0.1:2", models=["m"], capacity=4, active=1))
    await eventually(lambda: (r := a.membership.get("b").record) and r.active == 1)
    sampler = UtilisationSampler(Probe(), interval=60.0)
    now = asyncio.get_running_loop().time()
    rows = cluster_status(a.membership.members(), now=now, breakers={}, sampler=sampler)
    assert {r["name"]: (r["excluded"], r["draining"]) for r in rows} == {
        "a": (False, False),
        "b": (False, False),
    }
    b.publish(NodeRecord("b", "127.0.0.1:2", models=["m"], capacity=4, active=1, excluded=["b"]))
    await eventually(lambda: (r := a.membership.get("b").record) and r.excluded == ["b"])
    rows = cluster_status(a.membership.members(), now=now, breakers={}, sampler=sampler)
    assert {r["name"]: (r["excluded"], r["draining"]) for r in rows}["b"] == (True, True)
    await b.stop(leave=True)
    await eventually(lambda: _state(a, "b") == "left")

    now = asyncio.get_running_loop().time()
    rows = cluster_status(a.membership.members(), now=now, breakers={"b": "open"}, sampler=sampler)
    by_name = {row["name"]: row for row in rows}
    assert set(by_name) == {"a", "b"}
    assert by_name["a"]["self"] and by_name["a"]["breaker"] == "closed"
    row = by_name["b"]
    assert (row["state"], row["available"], row["breaker"]) == ("left", False, "open")
    assert (row["models"], row["load"], row["utilisation"]) == (["m"], 0.25, None)
    await a.stop(leave=False)


async def test_discovery_joins_the_listed_seeds_and_ignores_this_peer_itself() -> None:
    net = LoopNet()
    a, b = net.gossip("a"), net.gossip("b")
    a.start()
    b.start()
    config = node_config("b", seeds=["127.0.0.1:1", "127.0.0.1:2"])
    async with (
        aiohttp.ClientSession() as session,
        Discovery(config, gossip=b, host="127.0.0.1", port=2, session=session) as discovery,
    ):
        await eventually(lambda: _state(a, "b") == "alive" and _state(b, "a") == "alive")
        discovery.on_discovered("127.0.0.1:2")  # its own announcement
        assert {m.name for m in b.members()} == {"a", "b"}
        assert b.is_joined() and b.live_peers() == {"a": "127.0.0.1:1"}
        assert b.alive_addresses() == {"127.0.0.1:1", "127.0.0.1:2"}
    await b.stop(leave=False)
    await a.stop(leave=False)


def test_the_membership_part_imports_only_the_cluster_layer() -> None:
    """The simulator builds thousands of peers from it: no HTTP stack or config tree."""
    tree = ast.parse(Path(gossip_module.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    ours = {m for m in imported if m.split(".")[0] == "harombe"}
    assert ours and all(m.startswith("harombe.cluster.") for m in ours), ours
    assert not imported & {"aiohttp", "pydantic", "yaml"}

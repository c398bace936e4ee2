"""mDNS discovery: in-process on loopback, and three `harombed` hosts in network namespaces
that find each other by mDNS alone (no seeds), detect a kill -9 and take the host back."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.cluster_harness import eventually
from support.netns_lan import Lan, kill_process, netns_available, virtual_lan

from harombe.cluster.discovery import MdnsDiscovery

MDNS_GROUP = "224.0.0.251"


def loopback_multicast_works() -> bool:
    """Whether a multicast datagram sent on `lo` comes back (it does not on every kernel)."""
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx,
    ):
        rx.bind(("", 0))
        rx.setsockopt(
            socket.IPPROTO_IP,
            socket.IP_ADD_MEMBERSHIP,
            socket.inet_aton(MDNS_GROUP) + socket.inet_aton("127.0.0.1"),
        )
        rx.settimeout(1.0)
        tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        tx.sendto(b"probe", (MDNS_GROUP, rx.getsockname()[1]))
        try:
            return rx.recv(16) == b"probe"
        except OSError:
            return False


async def test_loopback_mdns_finds_peers_of_the_same_label_only():
    if not await asyncio.to_thread(loopback_multicast_works):
        pytest.skip("multicast does not loop back on `lo` on this machine")
    tag = secrets.token_hex(4)  # a fresh label: concurrent runs on this host stay apart
    found: dict[str, set[str]] = {}

    def node(name: str, label: str, port: int) -> MdnsDiscovery:
        found[name] = set()
        return MdnsDiscovery(
            name=f"{name}-{tag}",
            label=label,
            api_port=port,
            host="127.0.0.1",
            interfaces=["127.0.0.1"],
            on_peer=found[name].add,
        )

    nodes = [
        node("a", f"lab-{tag}", 9001),
        node("b", f"lab-{tag}", 9002),
        node("c", f"home-{tag}", 9003),
        node("d", f"home-{tag}", 9004),
    ]
    try:
        async with asyncio.TaskGroup() as group:  # probing takes ~1 s each: do it together
            for n in nodes:
                group.create_task(n.start())
        await eventually(
            lambda: found["a"] and found["b"] and found["c"] and found["d"],
            what="every node finds a peer",
        )
    finally:
        await asyncio.gather(*(n.close() for n in nodes))
    assert found == {
        "a": {"127.0.0.1:9002"},
        "b": {"127.0.0.1:9001"},
        "c": {"127.0.0.1:9004"},
        "d": {"127.0.0.1:9003"},
    }


# -- three hosts in network namespaces ---------------------------------------------------------

PORT = 8765
HOSTS = 3
DEADLINE_S = 40.0
STATUS_SCRIPT = """
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
    print(json.dumps({n["name"]: n["state"] for n in json.load(r)["nodes"]}))
"""


@pytest.fixture
def lan() -> Iterator[Lan]:
    reason = netns_available()
    if reason:
        pytest.skip(reason)
    with virtual_lan(HOSTS) as lan:
        yield lan


class Daemons:
    """One `harombed` per namespace host: mDNS on, no seeds, fast local membership timings."""

    def __init__(self, lan: Lan, home: Path) -> None:
        self.lan = lan
        self.home = home
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    def name(self, host: int) -> str:
        return f"h{host + 1}"

    def start(self, host: int) -> None:
        env = {
            **os.environ,
            "HAROMBE_HOME": str(self.home / self.name(host)),
            "HAROMBE_CLUSTER__MEMBERSHIP__PROFILE": "local",
        }
        env.pop("HAROMBE_SEEDS", None)
        argv = [
            sys.executable,
            "-m",
            "harombe.cli.daemon",
            "--host",
            self.lan.addresses[host],
            "--port",
            str(PORT),
            "--name",
            self.name(host),
            "--backend",
            "none",
            "--mdns",
            "--log-level",
            "debug",
        ]
        log = (self.home / f"{self.name(host)}.log").open("ab")
        self.procs[host] = self.lan.spawn(host, argv, env=env, log=log)
        log.close()

    def kill(self, host: int) -> None:
        kill_process(self.procs.pop(host))

    def view(self, host: int) -> dict[str, str]:
        """host's gossip view (name -> state) from its GET /cluster/status; {} if unreachable."""
        url = f"http://{self.lan.addresses[host]}:{PORT}/cluster/status"
        try:
            out = self.lan.run(host, [sys.executable, "-c", STATUS_SCRIPT, url], timeout=10)
        except (RuntimeError, subprocess.TimeoutExpired):
            return {}
        return json.loads(out)

    def logs(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}"
            for log in sorted(self.home.glob("*.log"))
        )

    def wait(self, check: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {DEADLINE_S} s\n{self.logs()}")
            time.sleep(0.2)

    def all_see(self, observers: list[int], name: str, state: str) -> bool:
        return all(self.view(h).get(name) == state for h in observers)


@pytest.mark.netns
def test_hosts_find_each_other_by_mdns_and_agree_on_a_kill_and_return(lan, tmp_path):
    daemons = Daemons(lan, tmp_path)
    everyone = list(range(HOSTS))
    for host in everyone:
        daemons.start(host)

    def all_alive() -> bool:
        return all(
            sorted(n for n, s in daemons.view(h).items() if s == "alive")
            == [daemons.name(x) for x in everyone]
            for h in everyone
        )

    daemons.wait(all_alive, "each host sees all three alive, by mDNS alone")
    daemons.kill(0)
    survivors = everyone[1:]
    daemons.wait(lambda: daemons.all_see(survivors, "h1", "dead"), "survivors mark h1 dead")
    daemons.start(0)
    daemons.wait(all_alive, "h1 alive again everywhere after its restart")

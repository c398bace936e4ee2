"""A throwaway LAN of network namespaces, for multi-host tests on one machine.

Each host is a namespace with one `eth0` (10.213.1.N/24) whose veth peer sits on a bridge
inside yet another namespace, so nothing touches the machine's own interfaces. Needs root and
iproute2; `netns_available()` says why not when they are missing.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

SUBNET = "10.213.1"


def netns_available() -> str | None:
    """None when the LAN can be built, else the reason it cannot."""
    if sys.platform != "linux":
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 (`ip`) is not installed"
    probe = f"hb-probe-{secrets.token_hex(3)}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


@dataclass
class Lan:
    hosts: list[str]
    """Namespace names, one per host."""
    addresses: list[str]
    """Each host's address on the LAN, same order."""
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def command(self, host: int, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.hosts[host], *argv]

    def run(self, host: int, argv: Sequence[str], timeout: float = 30.0) -> str:
        """Run a command on `host` to completion; its stdout, or RuntimeError."""
        done = subprocess.run(
            self.command(host, argv), capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} on {self.hosts[host]}: {done.stderr.strip()}")
        return done.stdout

    def spawn(
        self, host: int, argv: Sequence[str], env: dict[str, str] | None = None, log=None
    ) -> subprocess.Popen[bytes]:
        """Start a long-running process on `host`; it is killed when the LAN is torn down."""
        proc = subprocess.Popen(
            self.command(host, argv),
            env=env,
            stdout=log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
            start_new_session=True,
        )
        self.processes.append(proc)
        return proc


def kill_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process and everything it started (its session)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@contextmanager
def virtual_lan(size: int) -> Iterator[Lan]:
    """Build `size` hosts on one bridge; kill their processes and delete it all on exit."""
    tag = f"hb-{secrets.token_hex(3)}"
    bridge = f"{tag}-br"
    hosts = [f"{tag}-{i}" for i in range(1, size + 1)]
    created: list[str] = []
    lan = Lan(hosts=hosts, addresses=[f"{SUBNET}.{10 + i}" for i in range(1, size + 1)])
    try:
        for ns in (bridge, *hosts):
            ip("netns", "add", ns)
            created.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", bridge, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
        ip("-n", bridge, "link", "set", "br0", "up")
        for i, (ns, address) in enumerate(zip(hosts, lan.addresses, strict=True), 1):
            port = f"p{i}"
            ip(
                "-n",
                bridge,
                "link",
                "add",
                port,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                ns,
            )
            ip("-n", bridge, "link", "set", port, "master", "br0", "up")
            ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
            ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0")
        yield lan
    finally:
        for proc in lan.processes:
            kill_process(proc)
        for ns in reversed(created):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

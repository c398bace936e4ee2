"""The benchmark's `harombed` processes on loopback, and the CPU they use."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

STOP_TIMEOUT_S = 10.0  # SIGTERM (graceful leave) before SIGKILL on the way out


@dataclass
class Peer:
    name: str
    port: int
    args: list[str]
    env: dict[str, str]
    log: Path
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                *self.args, stdout=out, stderr=out, env=self.env
            )

    def signal_kill(self) -> None:
        """SIGKILL without waiting (safe in a cancelled task's cleanup)."""
        if self.process and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()

    async def kill(self) -> None:
        self.signal_kill()
        if self.process:
            await self.process.wait()

    async def stop(self) -> None:
        """SIGTERM (graceful leave), then SIGKILL if it has not exited in time."""
        if not self.process or self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            await self.kill()

    def exited(self) -> bool:
        return self.process is not None and self.process.returncode is not None

    def log_tail(self, chars: int = 2000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.asynccontextmanager
async def cluster(n: int, spare: int, home: Path) -> AsyncIterator[tuple[list[Peer], list[Peer]]]:
    """n harombed processes on loopback, all started at once, and `spare` more not started yet
    (newcomers); every process started is stopped on the way out."""
    config = home / "harombe.yaml"
    config.write_text("{}\n")  # default membership timings (profile lan)
    env = {**os.environ, "HAROMBE_HOME": str(home)}
    ports = [free_port() for _ in range(n + spare)]
    peers = []
    for i, port in enumerate(ports):
        args = [sys.executable, "-m", "harombe.cli.daemon", "--host", "127.0.0.1",
                "--port", str(port), "--name", f"p{i}", "--no-mdns", "--backend", "none",
                "--log-level", "warning", "--config", str(config)]  # fmt: skip
        if i:
            args += ["--seed", f"127.0.0.1:{ports[0]}"]
        peers.append(Peer(f"p{i}", port, args, env, home / f"p{i}.log"))
    try:
        for peer in peers[:n]:
            await peer.start()
        yield peers[:n], peers[n:]
    finally:
        try:
            await asyncio.gather(*(peer.stop() for peer in peers))
        finally:
            for peer in peers:
                peer.signal_kill()


class CpuMeter:
    """Cores used over a span by this process's children (the daemons, restarted ones and
    killed ones included), by this process, and by the whole host."""

    def _read(self) -> tuple[float, float, float, float]:
        me = psutil.Process()
        children = 0.0
        for child in me.children():
            with contextlib.suppress(psutil.NoSuchProcess):
                t = child.cpu_times()
                children += t.user + t.system
        reaped = os.times()
        mine = me.cpu_times()
        host = psutil.cpu_times()
        return (
            children + reaped.children_user + reaped.children_system,
            mine.user + mine.system,
            host.user + host.system + host.nice,
            time.monotonic(),
        )

    async def __aenter__(self) -> CpuMeter:
        self._start = await asyncio.to_thread(self._read)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        end = await asyncio.to_thread(self._read)
        wall = end[3] - self._start[3]
        self.daemons, self.bench, self.host = (
            (e - s) / wall for e, s in zip(end[:3], self._start[:3], strict=True)
        )

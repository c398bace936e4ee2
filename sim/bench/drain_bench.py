"""Drain benchmark: seconds from SIGTERM to a real `harombed`'s exit, idle and with a stream in
flight. `python -m sim.bench.drain_bench [--trials N] [--json]`; results in docs/performance.md.

Each trial starts a `harombed` (loopback, mDNS off, no seeds, default `limits:`) in front of a
`FakeOpenAI` and sends it SIGTERM: idle; with one stream that ends `STREAM_ENDS_S` after the
signal (it must finish, and the exit follow it); and with one stream that never ends (cut at
`limits.drain_timeout`). Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from sim.fake_openai import FakeOpenAI, Reply

STREAM_ENDS_S = 2.0
START_LIMIT_S = 60.0
EXIT_LIMIT_S = 30.0
QUESTION = [{"role": "user", "content": "Tell me a long story."}]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Daemon:
    """One `harombed` process on 127.0.0.1 with its log in `home`."""

    def __init__(self, home: Path, backend_url: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.home = home
        self.args = [
            "--host", "127.0.0.1", "--port", str(self.port), "--name", "drainer", "--no-mdns",
            "--backend", "openai", "--backend-url", backend_url, "--model", "fake-model",
        ]  # fmt: skip
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {**os.environ, "HAROMBE_HOME": str(self.home)}
        with (self.home / "harombed.log").open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "harombe.cli.daemon", *self.args,
                stdout=log, stderr=log, env=env,
            )  # fmt: skip
        async with asyncio.timeout(START_LIMIT_S), aiohttp.ClientSession() as http:
            while True:
                try:
                    async with http.get(f"{self.url}/health") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)

    async def terminate(self) -> tuple[float, int]:
        """(seconds from SIGTERM to exit, exit code)."""
        assert self.process is not None
        started = time.perf_counter()
        self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(EXIT_LIMIT_S):
            code = await self.process.wait()
        return time.perf_counter() - started, code

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


async def _stream(url: str, first_piece: asyncio.Event) -> str:
    """An Ollama chat stream's text, or "cut" when the connection ends before `done`."""
    body = {"model": "fake-model", "messages": QUESTION}
    text = ""
    try:
        async with aiohttp.ClientSession() as http, http.post(f"{url}/api/chat", json=body) as r:
            async for line in r.content:
                if line.strip():
                    answer = json.loads(line)
                    text += answer["message"]["content"]
                    first_piece.set()
                    if answer["done"]:
                        return text
    except aiohttp.ClientError:
        pass
    return "cut"


async def trial(home: Path, stream: str) -> dict[str, Any]:
    """One daemon, one SIGTERM; `stream`: "none", "ends" (after STREAM_ENDS_S) or "never"."""
    release = asyncio.Event()
    reply = Reply(pieces=["one", " two"], hold=release, hold_after=1)
    async with FakeOpenAI(default=reply) as fake:
        daemon = Daemon(home, fake.url)
        try:
            await daemon.start()
            answer = None
            if stream != "none":
                first_piece = asyncio.Event()
                answer = asyncio.create_task(_stream(daemon.url, first_piece))
                await first_piece.wait()
            if stream == "ends":
                asyncio.get_running_loop().call_later(STREAM_ENDS_S, release.set)
            seconds, code = await daemon.terminate()
            result = {"exit_s": seconds, "code": code}
            if answer is not None:
                result["answer"] = await answer
            return result
        finally:
            await daemon.kill()


async def run(trials: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="harombe-drain-") as tmp:
        for stream in ("none", "ends", "never"):
            runs = [await trial(Path(tmp), stream) for _ in range(trials)]
            times = [r["exit_s"] for r in runs]
            results[f"stream_{stream}"] = {
                "trials": trials,
                "exit_s_median": round(statistics.median(times), 3),
                "exit_s_max": round(max(times), 3),
                "exit_codes": sorted({r["code"] for r in runs}),
                "answers": sorted({r.get("answer", "-") for r in runs}),
            }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5, help="SIGTERMs per case")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    results = asyncio.run(run(args.trials))
    if args.json:
        print(json.dumps(results))
        return
    for name, values in results.items():
        print(f"{name}: {values}")


if __name__ == "__main__":
    main()

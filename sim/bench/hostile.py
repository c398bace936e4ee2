"""Hostile-client benchmark: one real peer on loopback under the attacks of issue 12, with the
default limits. `python -m sim.bench.hostile [--json]`; results go to docs/performance.md.

Measures: RSS growth while a 40 MB body is refused; /health latency while 4 MB prompts are
parsed; connections held and /health latency under 1,500 idle connections; how long 200
slowloris connections survive. Every loop is bounded; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import psutil

from harombe.api.server import raise_open_file_limit
from harombe.config import HarombeConfig
from harombe.daemon import Node
from sim.bench.classifier_bench import prose

MB = 1_000_000


def peer_config() -> HarombeConfig:
    return HarombeConfig.model_validate(
        {
            "node": {"name": "target"},
            "server": {"host": "127.0.0.1", "port": 0},
            "backend": {"kind": "none"},
            "cluster": {"mdns": False},
        }
    )


class PeakRss:
    """Samples this process's RSS every 5 ms in a thread; `growth` is peak minus start."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self.start = self._process.memory_info().rss
        self.peak = self.start
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.005):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / MB


async def connect(node: Node) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = node.address.rsplit(":", 1)
    return await asyncio.open_connection(host, int(port))


async def status_of(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1])


async def big_body(node: Node) -> dict[str, Any]:
    """A 40 MB chunked body (the length unknown up front) and a declared 40 MB one."""
    chunk = b"x" * 65536
    with PeakRss() as rss:
        reader, writer = await connect(node)
        writer.write(b"POST /api/chat HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")

        async def upload() -> None:
            with contextlib.suppress(ConnectionError):
                for _ in range(40 * MB // len(chunk)):
                    writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    await writer.drain()

        uploading = asyncio.create_task(upload())
        chunked_status = await status_of(reader)
        uploading.cancel()
        writer.close()
        reader, writer = await connect(node)
        writer.write(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
            % (40 * MB)
        )
        declared_status = await status_of(reader)
        writer.close()
    return {
        "chunked_status": chunked_status,
        "declared_status": declared_status,
        "rss_growth_mb": round(rss.growth_mb, 1),
    }


async def health_latencies(url: str, stop: asyncio.Event) -> list[float]:
    latencies: list[float] = []
    async with aiohttp.ClientSession() as http:
        while not stop.is_set() and len(latencies) < 10_000:
            started = time.perf_counter()
            async with http.get(f"{url}/health") as resp:
                await resp.read()
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.01)
    return latencies


@contextlib.asynccontextmanager
async def probing(url: str) -> AsyncIterator[list[float]]:
    stop = asyncio.Event()
    results: list[float] = []
    task = asyncio.create_task(health_latencies(url, stop))
    try:
        yield results
    finally:
        stop.set()
        results.extend(await task)


def summary(latencies: list[float]) -> dict[str, float]:
    ms = sorted(x * 1000 for x in latencies)
    return {
        "samples": len(ms),
        "median_ms": round(statistics.median(ms), 1),
        "max_ms": round(ms[-1], 1),
    }


async def big_prompt(
    node: Node, rounds: int = 20, model: str = "nobody-serves-this", prompt: str | None = None
) -> dict[str, Any]:
    """4 MB prompts: parsed and validated, then refused. Naming a model nobody serves skips
    the classifier (404); `auto` runs it on the whole prompt first (then 503: no node)."""
    url = f"http://{node.address}"
    prompt = prompt or "word " * (4 * MB // 5)
    body = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    raw = json.dumps(body).encode()
    statuses = []
    async with probing(url) as latencies, aiohttp.ClientSession() as http:
        for _ in range(rounds):
            async with http.post(f"{url}/api/chat", data=raw) as resp:
                statuses.append(resp.status)
                await resp.read()
    return {"prompt_mb": round(len(raw) / MB, 1), "statuses": statuses, **summary(latencies)}


async def idle_flood(node: Node, count: int = 1500) -> dict[str, Any]:
    url = f"http://{node.address}"
    opened: list[asyncio.StreamWriter] = []
    failed = 0
    async with probing(url) as latencies:
        for _ in range(count):
            try:
                opened.append((await connect(node))[1])
            except OSError:
                failed += 1
        await asyncio.sleep(1.0)  # keep probing while the flood sits there
        held = node.guard.stats.open
    for writer in opened:
        writer.close()
    return {
        "opened": len(opened),
        "open_failed": failed,
        "held_by_peer": held,
        "cap": node.config.limits.max_connections,
        "evicted": node.guard.stats.events["evicted"],
        **{f"health_{k}": v for k, v in summary(latencies).items()},
    }


async def slowloris(node: Node, count: int = 200) -> dict[str, Any]:
    connections = [await connect(node) for _ in range(count)]
    started = time.perf_counter()
    for _, writer in connections:
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")

    async def closed(reader: asyncio.StreamReader) -> float:
        with contextlib.suppress(ConnectionError):
            while await reader.read(4096):
                pass
        return time.perf_counter() - started

    async def trickle() -> None:
        while True:
            await asyncio.sleep(1.0)
            for _, writer in connections:
                with contextlib.suppress(ConnectionError):
                    writer.write(b"X-Slow: 1\r\n")

    trickling = asyncio.create_task(trickle())
    async with asyncio.timeout(60):
        times = await asyncio.gather(*(closed(r) for r, _ in connections))
    trickling.cancel()
    return {
        "connections": count,
        "header_timeout_s": node.config.limits.header_timeout,
        "all_closed_after_s": round(max(times), 2),
    }


async def run() -> dict[str, Any]:
    nofile = raise_open_file_limit()
    async with Node(peer_config()) as node:
        return {
            "open_file_limit": nofile,
            "body_40mb": await big_body(node),
            "prompt_4mb": await big_prompt(node),
            "prompt_4mb_classified": await big_prompt(node, model="auto", prompt=prose(4 * MB)),
            "idle_flood_1500": await idle_flood(node),
            "slowloris_200": await slowloris(node),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    results = asyncio.run(run())
    if args.json:
        print(json.dumps(results))
        return
    for name, values in results.items():
        print(f"{name}: {values}")


if __name__ == "__main__":
    main()

"""What a harombe peer adds to a request, on loopback, side by side with a bare relay.

Four paths, each timed from the client's request to the last byte of the streamed answer:
- direct: client → the backend (an OpenAI-compatible server);
- relay: client → a bare aiohttp relay (`python -m sim.bench.overhead relay`: passes the
  request and the streamed bytes through, nothing else) → the backend: the floor for any
  Python proxy;
- peer: client → harombed → its own backend;
- forwarded: client → harombed without a backend → the peer that has one → its backend.
For each: latency of one request at a time (total and time to first token), throughput with 8
concurrent clients (every process on every core, then the proxies on a core of their own, as on
a machine with a core to spare), the CPU the proxy processes spend per request and their peak
RSS. The
backend is `FakeOpenAI` (answers at once, so only the proxies' own cost shows), then the real
llama.cpp server with the demo model when xllamacpp is installed (time to first token). Every
server runs in its own process, as on a real machine; only the clients run here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import psutil
from aiohttp import web

CONCURRENCY = 8


@dataclass
class Timing:
    first_token_s: float
    total_s: float
    chunks: int


@dataclass
class PathStats:
    name: str
    ttft: list[float]
    total: list[float]

    def p(self, values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def stream_once(http: aiohttp.ClientSession, url: str, model: str, max_tokens: int) -> Timing:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "Say hello."}],
        "stream": True,
        "max_tokens": max_tokens,
        "temperature": 0,
    }
    started = time.perf_counter()
    first = None
    chunks = 0
    async with http.post(f"{url}/v1/chat/completions", json=body) as resp:
        resp.raise_for_status()
        async for line in resp.content:
            if line.startswith(b"data: {"):
                chunks += 1
                if first is None and b'"content"' in line and b'"content": ""' not in line:
                    first = time.perf_counter() - started
    total = time.perf_counter() - started
    return Timing(first if first is not None else total, total, chunks)


async def measure(
    http: aiohttp.ClientSession, paths: dict[str, str], model: str, n: int, max_tokens: int
) -> list[PathStats]:
    """Interleave the paths request by request, so drift in machine load hits all alike."""
    stats = {name: PathStats(name, [], []) for name in paths}
    for _ in range(min(20, n)):
        for url in paths.values():
            await stream_once(http, url, model, max_tokens)
    for _ in range(n):
        for name, url in paths.items():
            timing = await stream_once(http, url, model, max_tokens)
            stats[name].ttft.append(timing.first_token_s)
            stats[name].total.append(timing.total_s)
    return list(stats.values())


async def throughput(http: aiohttp.ClientSession, url: str, model: str, tokens: int) -> float:
    timing = await stream_once(http, url, model, tokens)
    return timing.chunks / timing.total_s


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.asynccontextmanager
async def process(args: list[str], ready_url: str) -> AsyncIterator[subprocess.Popen[bytes]]:
    """Run `python args...` until the block ends; wait until `ready_url` answers 200."""
    proc = subprocess.Popen(  # noqa: ASYNC220 (returns at once; waiting is done by polling)
        [sys.executable, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession() as http:
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{' '.join(args)} did not start")
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(ready_url) as resp:
                        if resp.status == 200:
                            break
                await asyncio.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 10)


@contextlib.asynccontextmanager
async def fake_backend(interval: float) -> AsyncIterator[tuple[str, int]]:
    """The instant OpenAI-compatible backend in its own process: its URL and process id."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["-m", "sim.fake_openai", "--port", str(port), "--interval", str(interval)]
    async with process(args, f"{url}/v1/models") as proc:
        yield url, proc.pid


@contextlib.contextmanager
def proxies_on_own_core(proxies: list[int], others: list[int]) -> Iterator[int | None]:
    """Pin the `proxies` processes to the last CPU this process may use and `others` to the
    rest, as on a machine with a core to spare for the proxy; restored on exit. Yields that
    CPU, or None where affinity cannot be set (not Linux, or a single CPU)."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_setaffinity") else []
    if len(cpus) < 2:
        yield None
        return
    for pid in proxies:
        os.sched_setaffinity(pid, cpus[-1:])
    for pid in others:
        os.sched_setaffinity(pid, cpus[:-1])
    try:
        yield cpus[-1]
    finally:
        for pid in [*proxies, *others]:
            with contextlib.suppress(OSError):  # a process already gone
                os.sched_setaffinity(pid, cpus)


@dataclass
class Paths:
    urls: dict[str, str]  # path name → the URL a client sends to
    pids: dict[str, list[int]]  # path name → the proxy processes it crosses

    def __getitem__(self, name: str) -> str:
        return self.urls[name]


@contextlib.asynccontextmanager
async def peers_for(backend_url: str, model: str) -> AsyncIterator[Paths]:
    """A bare relay and two harombed processes: one serving `backend_url`, one with no backend
    in front of it."""
    serving, entry, relay = _free_port(), _free_port(), _free_port()
    relay_args = ["-m", "sim.bench.overhead", "relay", "--port", str(relay), "--backend",
                  backend_url]  # fmt: skip
    common = ["-m", "harombe.cli.daemon", "--host", "127.0.0.1", "--no-mdns", "--log-level",
              "warning"]  # fmt: skip
    env_profile = ["--config", str(_bench_config())]
    serving_args = [
        *common,
        *env_profile,
        "--port",
        str(serving),
        "--name",
        "bench-serving",
        "--backend",
        "openai",
        "--backend-url",
        backend_url,
        "--model",
        model,
    ]
    entry_args = [*common, *env_profile, "--port", str(entry), "--name", "bench-entry",
                  "--backend", "none", "--seed", f"127.0.0.1:{serving}"]  # fmt: skip
    async with (
        process(relay_args, f"http://127.0.0.1:{relay}/health") as relay_proc,
        process(serving_args, f"http://127.0.0.1:{serving}/health") as serving_proc,
        process(entry_args, f"http://127.0.0.1:{entry}/health") as entry_proc,
    ):
        await _wait_for_model(f"http://127.0.0.1:{entry}", model)
        yield Paths(
            urls={
                "direct": backend_url,
                "relay": f"http://127.0.0.1:{relay}",
                "peer": f"http://127.0.0.1:{serving}",
                "forwarded": f"http://127.0.0.1:{entry}",
            },
            pids={
                "direct": [],
                "relay": [relay_proc.pid],
                "peer": [serving_proc.pid],
                "forwarded": [entry_proc.pid, serving_proc.pid],
            },
        )


def _bench_config() -> Path:
    path = Path(tempfile.gettempdir()) / "harombe-bench.yaml"
    # The default (LAN) membership timings: the `local` profile's 0.1 s probe timeout would
    # suspect a peer starved of CPU by the load this benchmark puts on a small machine.
    path.write_text("node:\n  capacity: 64\n")
    return path


async def _wait_for_model(entry_url: str, model: str) -> None:
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            async with http.get(f"{entry_url}/cluster/status") as resp:
                status = await resp.json()
            if any(model in n["models"] and n["state"] == "alive" for n in status["nodes"]):
                return
            await asyncio.sleep(0.1)
    raise RuntimeError("the entry peer never saw the serving peer's model")


def _table(stats: list[PathStats], what: str) -> list[str]:
    base = stats[0]
    lines = [
        f"| path | p50 {what} ms | p99 {what} ms | added p50 ms | added p99 ms |",
        "|---|---|---|---|---|",
    ]
    for s in stats:
        values = s.total if what == "total" else s.ttft
        base_values = base.total if what == "total" else base.ttft
        p50, p99 = s.p(values, 0.5) * 1000, s.p(values, 0.99) * 1000
        b50, b99 = base.p(base_values, 0.5) * 1000, base.p(base_values, 0.99) * 1000
        lines.append(f"| {s.name} | {p50:.2f} | {p99:.2f} | {p50 - b50:+.2f} | {p99 - b99:+.2f} |")
    return lines


def cpu_seconds(proc: psutil.Process) -> float:
    """CPU time of `proc`, all its threads: on Linux the scheduler's exact count in
    /proc/PID/task/*/schedstat (user+system times are sampled at the timer tick, 4 ms here,
    too coarse for a fraction of a millisecond per request); elsewhere user+system."""
    tasks = Path(f"/proc/{proc.pid}/task")
    if not tasks.is_dir():
        return sum(proc.cpu_times()[:2])
    total = 0
    for task in tasks.iterdir():
        with contextlib.suppress(OSError):
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


@dataclass
class Load:
    """One path under `CONCURRENCY` clients."""

    name: str
    rate: float  # requests/s
    cpu_ms: float  # CPU of the path's proxy processes per request
    rss_mib: float  # their largest resident set, summed


async def under_load(
    http: aiohttp.ClientSession, paths: Paths, name: str, model: str, requests: int
) -> Load:
    """`requests` streamed requests by `CONCURRENCY` clients at once, sampling the proxies."""
    procs = [psutil.Process(pid) for pid in paths.pids[name]]
    cpu0 = sum(map(cpu_seconds, procs))
    peak = 0.0
    left = requests

    async def client() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await stream_once(http, paths[name], model, 16)

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, sum(p.memory_info().rss for p in procs) / 2**20)
            await asyncio.sleep(0.05)

    sampler = asyncio.create_task(sample())
    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    took = time.perf_counter() - started
    sampler.cancel()
    await asyncio.gather(sampler, return_exceptions=True)
    cpu = sum(map(cpu_seconds, procs)) - cpu0
    return Load(name, requests / took, cpu / requests * 1000, peak)


def _load_table(loads: list[Load]) -> list[str]:
    direct = loads[0].rate
    lines = [
        f"| path | requests/s at {CONCURRENCY} clients | × direct | proxy CPU ms/request "
        "| proxy peak RSS MiB |",
        "|---|---|---|---|---|",
    ]
    for load in loads:
        cpu = f"{load.cpu_ms:.2f}" if load.cpu_ms else "-"
        rss = f"{load.rss_mib:.0f}" if load.rss_mib else "-"
        lines.append(
            f"| {load.name} | {load.rate:,.0f} | {load.rate / direct:.2f} | {cpu} | {rss} |"
        )
    return lines


async def run_overhead(n: int = 300) -> str:
    out = ["### Routing overhead on loopback (instant OpenAI-compatible backend)", ""]
    model = "fake-model"
    connector = aiohttp.TCPConnector(limit=CONCURRENCY * 2)
    async with aiohttp.ClientSession(connector=connector) as http:
        async with fake_backend(0.0) as (url, backend_pid), peers_for(url, model) as paths:
            stats = await measure(http, paths.urls, model, n, 16)
            out += [f"{n} streamed requests per path (16 tokens each), one at a time, "
                    "interleaved.", ""]  # fmt: skip
            out += [*_table(stats, "total"), "", *_table(stats, "ttft"), ""]
            for name in PATHS:  # warm every path's connections up
                await under_load(http, paths, name, model, CONCURRENCY * 5)
            loads = [await under_load(http, paths, p, model, n * 4) for p in PATHS]
            out += [f"{n * 4} streamed requests per path by {CONCURRENCY} concurrent clients "
                    "(16 tokens each), every process on every core.", "",
                    *_load_table(loads), ""]  # fmt: skip
            proxies = sorted({pid for pids in paths.pids.values() for pid in pids})
            with proxies_on_own_core(proxies, [os.getpid(), backend_pid]) as cpu:
                if cpu is not None:
                    loads = [await under_load(http, paths, p, model, n * 4) for p in PATHS]
                    out += [f"The same with the proxies on a core of their own (CPU {cpu}; the "
                            "clients and the backend on the others), as on a machine with a "
                            "core to spare: the proxy's own cost against the direct path's.",
                            "", *_load_table(loads), ""]  # fmt: skip
            fast = [await best_rate(http, paths[p], model, 5000) for p in PATHS]
        async with fake_backend(0.001) as (url, _), peers_for(url, model) as paths:
            paced = [await best_rate(http, paths[p], model, 2000) for p in PATHS]
        async with fake_backend(0.01) as (url, _), peers_for(url, model) as paths:
            real = [await best_rate(http, paths[p], model, 300) for p in PATHS]
    out += [
        "Streaming throughput (chunks/s of one answer, best of 3):",
        "",
        "| backend pace | direct | relay | peer | forwarded |",
        "|---|---|---|---|---|",
        _rate_row("as fast as it can (5,000 chunks)", fast),
        _rate_row("one token per ms (2,000 chunks)", paced),
        _rate_row("100 tokens/s, a 14B model's pace (300 chunks)", real),
        "",
    ]
    out += await run_llama_ttft(max(30, n // 10))
    return "\n".join(out)


PATHS = ("direct", "relay", "peer", "forwarded")


async def best_rate(http: aiohttp.ClientSession, url: str, model: str, tokens: int) -> float:
    return max([await throughput(http, url, model, tokens) for _ in range(3)])


def _rate_row(label: str, rates: list[float]) -> str:
    direct = rates[0]
    cells = [f"{direct:,.0f}", *(f"{r:,.0f} ({r / direct:.0%})" for r in rates[1:])]
    return f"| {label} | {' | '.join(cells)} |"


async def run_llama_ttft(n: int) -> list[str]:
    try:
        from harombe.inference.demo_model import DEMO_MODEL_NAME, ensure_demo_model
        from harombe.inference.llamacpp import EmbeddedLlamaCpp
    except ImportError:
        return ["(xllamacpp not installed: no llama.cpp time-to-first-token measured)"]
    path = await asyncio.to_thread(ensure_demo_model)
    server = await EmbeddedLlamaCpp(path, model_name=DEMO_MODEL_NAME, n_ctx=2048, threads=2).start()
    try:
        url = server.base_url
        async with aiohttp.ClientSession() as http, peers_for(url, DEMO_MODEL_NAME) as paths:
            stats = await measure(http, paths.urls, DEMO_MODEL_NAME, n, 8)
    finally:
        await server.aclose()
    return [
        "### Time to first token, real llama.cpp server (demo model, 8 tokens)",
        "",
        f"{n} streamed requests per path, interleaved.",
        "",
        *_table(stats, "ttft"),
        "",
    ]


async def serve_relay(port: int, backend: str) -> None:
    """A bare aiohttp relay: each request passed to `backend`, the answer's bytes streamed back
    as they come. No parsing, routing or re-encoding: what any Python proxy costs at least."""
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))

    async def relay(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {"Content-Type": request.headers.get("Content-Type", "application/json")}
        async with session.post(backend + request.path, data=body, headers=headers) as upstream:
            response = web.StreamResponse(status=upstream.status)
            response.content_type = upstream.content_type
            await response.prepare(request)
            async for piece in upstream.content.iter_any():
                await response.write(piece)
            await response.write_eof()
            return response

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", relay)
    app.router.add_get("/health", health)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await asyncio.Event().wait()
    finally:
        await session.close()
        await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m sim.bench.overhead")
    parser.add_argument("mode", nargs="?", choices=["bench", "relay"], default="bench")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--backend", default="")
    args = parser.parse_args()
    if args.mode == "relay":
        asyncio.run(serve_relay(args.port, args.backend.rstrip("/")))
    else:
        print(asyncio.run(run_overhead()))

"""What a harombe peer adds to a request, on loopback.

Three paths, each timed from the client's request to the last byte of the streamed answer:
- direct: client → the backend (an OpenAI-compatible server);
- local: client → harombed → its own backend;
- forwarded: client → harombed without a backend → the peer that has one → its backend.
The backend is `FakeOpenAI` (answers at once, so only harombe's own cost shows), then the real
llama.cpp server with the demo model when xllamacpp is installed (time to first token). Every
server runs in its own process, as on a real machine; only the client runs here.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp


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
async def fake_backend(interval: float) -> AsyncIterator[str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["-m", "sim.fake_openai", "--port", str(port), "--interval", str(interval)]
    async with process(args, f"{url}/v1/models"):
        yield url


@contextlib.asynccontextmanager
async def peers_for(backend_url: str, model: str) -> AsyncIterator[dict[str, str]]:
    """Two harombed processes: one serving `backend_url`, one with no backend in front."""
    serving, entry = _free_port(), _free_port()
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
    async with process(serving_args, f"http://127.0.0.1:{serving}/health"):
        async with process(entry_args, f"http://127.0.0.1:{entry}/health"):
            await _wait_for_model(f"http://127.0.0.1:{entry}", model)
            yield {
                "direct": backend_url,
                "local": f"http://127.0.0.1:{serving}",
                "forwarded": f"http://127.0.0.1:{entry}",
            }


def _bench_config() -> Path:
    path = Path(tempfile.gettempdir()) / "harombe-bench.yaml"
    path.write_text("node:\n  capacity: 64\ncluster:\n  membership:\n    profile: local\n")
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


async def run_overhead(n: int = 300) -> str:
    out = ["### Routing overhead on loopback (instant OpenAI-compatible backend)", ""]
    model = "fake-model"
    async with aiohttp.ClientSession() as http:
        async with fake_backend(0.0) as url, peers_for(url, model) as paths:
            stats = await measure(http, paths, model, n, 16)
            out += [f"{n} streamed requests per path (16 tokens each), interleaved.", ""]
            out += [*_table(stats, "total"), ""]
            fast = [await best_rate(http, paths[p], model, 5000) for p in PATHS]
        async with fake_backend(0.001) as url, peers_for(url, model) as paths:
            paced = [await best_rate(http, paths[p], model, 2000) for p in PATHS]
        async with fake_backend(0.01) as url, peers_for(url, model) as paths:
            real = [await best_rate(http, paths[p], model, 300) for p in PATHS]
    out += [
        "Streaming throughput (chunks/s of one answer, best of 3):",
        "",
        "| backend pace | direct | through a peer | forwarded |",
        "|---|---|---|---|",
        _rate_row("as fast as it can (5,000 chunks)", fast),
        _rate_row("one token per ms (2,000 chunks)", paced),
        _rate_row("100 tokens/s, a 14B model's pace (300 chunks)", real),
        "",
    ]
    out += await run_llama_ttft(max(30, n // 10))
    return "\n".join(out)


PATHS = ("direct", "local", "forwarded")


async def best_rate(http: aiohttp.ClientSession, url: str, model: str, tokens: int) -> float:
    return max([await throughput(http, url, model, tokens) for _ in range(3)])


def _rate_row(label: str, rates: list[float]) -> str:
    direct, local, forwarded = rates
    return (
        f"| {label} | {direct:,.0f} | {local:,.0f} ({local / direct:.0%}) "
        f"| {forwarded:,.0f} ({forwarded / direct:.0%}) |"
    )


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
            stats = await measure(http, paths, DEMO_MODEL_NAME, n, 8)
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


if __name__ == "__main__":
    print(asyncio.run(run_overhead()))

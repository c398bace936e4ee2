"""The dashboard in a real headless Chromium (Debian's `chromium`, driven by Playwright's
Python API; never a downloaded browser): a 3-peer loopback cluster — two peers in this process,
the third a `harombed` process that is killed -9 — beside the real llama.cpp server.

Three node cards appear, requests sent through the official ollama client show up, and the
killed peer's card turns dead within 10 s. A screenshot is saved under the test's tmp dir.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator

import aiohttp
import ollama
import pytest
from aiohttp import web
from support.cli_support import free_port, poll

from harombe.api.dashboard_api import LiveFeed, add_dashboard_routes
from harombe.config import HarombeConfig
from harombe.daemon import Node
from harombe.stats.requests import RequestLog

pytestmark = pytest.mark.llamacpp

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
USER = [{"role": "user", "content": "Say something."}]


def node_config(name: str, tier: int, llama, seeds: list[str]) -> HarombeConfig:
    return HarombeConfig.model_validate(
        {
            "node": {"name": name, "tier": tier},
            "server": {"host": "127.0.0.1", "port": 0},
            "backend": {"kind": "openai", "url": llama.base_url, "model": llama.model},
            "cluster": {"mdns": False, "seeds": seeds, "membership": {"profile": "local"}},
            "monitoring": {"sample_interval": 0.5},
        }
    )


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    if not shutil.which(CHROMIUM):
        pytest.skip("needs Debian's chromium: apt-get install -y chromium")
    playwright_api = pytest.importorskip("playwright.async_api", reason="pip install playwright")
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def cluster(
    llama_server, tmp_path
) -> AsyncIterator[tuple[Node, Node, asyncio.subprocess.Process]]:
    async with Node(node_config("d0", 0, llama_server, [])) as first:
        async with Node(node_config("d1", 1, llama_server, [first.address])) as second:
            port = free_port()
            env = {
                **os.environ,
                "HAROMBE_HOME": str(tmp_path),
                "HAROMBE_CLUSTER__MEMBERSHIP__PROFILE": "local",
            }
            args = ["--host", "127.0.0.1", "--port", str(port), "--name", "d2", "--tier", "2",
                    "--no-mdns", "--backend", "openai", "--backend-url", llama_server.base_url,
                    "--model", llama_server.model, "--seed", first.address]  # fmt: skip
            log = await asyncio.to_thread(open, tmp_path / "d2.log", "w")
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "harombe.cli.daemon", *args,
                stdout=log, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip
            log.close()
            try:
                await poll(lambda: _alive(first) == {"d0", "d1", "d2"}, "d2 to join", deadline=60)
                yield first, second, proc
            finally:
                if proc.returncode is None:
                    proc.kill()
                await proc.wait()


def _alive(node: Node) -> set[str]:
    return {r["name"] for r in node.status() if r["state"] == "alive"}


async def test_dashboard_shows_nodes_requests_and_a_death(browser, cluster, tmp_path):
    d0, d1, d2_process = cluster
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    url = f"http://{d0.address}"
    await page.goto(f"{url}/dashboard")
    await page.wait_for_function("document.querySelectorAll('.card').length === 3", timeout=10_000)
    states = await page.eval_on_selector_all(
        ".card", "cards => cards.map(c => [c.dataset.node, c.dataset.state])"
    )
    assert sorted(states) == [["d0", "alive"], ["d1", "alive"], ["d2", "alive"]]

    client = ollama.AsyncClient(host=url)
    for tier in ("tier-0", "tier-2"):
        await client.chat(model=tier, messages=USER, options={"num_predict": 4})
    await client.close()
    await page.wait_for_function(
        "document.querySelectorAll('#recent tr.request').length === 2", timeout=5_000
    )
    nodes_in_table = await page.eval_on_selector_all(
        "#recent tr.request", "rows => rows.map(r => r.children[2].textContent)"
    )
    assert sorted(nodes_in_table) == ["d0", "d2"]
    counts = await page.eval_on_selector_all(
        "#by-node text[data-count]", "ts => ts.map(t => [t.dataset.count, t.textContent])"
    )
    assert sorted(counts) == [["d0", "1"], ["d2", "1"]]

    # A request d1 coordinated: not in d0's own numbers, but in "routed by every peer".
    other = ollama.AsyncClient(host=f"http://{d1.address}")
    await other.chat(model="tier-1", messages=USER, options={"num_predict": 4})
    await other.close()
    await page.select_option("#scope", "cluster")
    await page.wait_for_function(
        "document.querySelector('#by-node text[data-count=\"d1\"]')?.textContent === '1'",
        timeout=10_000,
    )

    d2_process.kill()  # as if its machine vanished: no goodbye
    await page.wait_for_selector('.card[data-node="d2"][data-state="dead"]', timeout=10_000)
    shot = tmp_path / "dashboard.png"
    await page.screenshot(path=str(shot), full_page=True)
    print(f"dashboard screenshot: {shot}")
    assert shot.stat().st_size > 10_000


async def test_dashboard_assets_are_served_from_the_package(cluster):
    d0, _, _ = cluster
    async with aiohttp.ClientSession() as http:
        for path, kind in (
            ("/dashboard", "text/html"),
            ("/dashboard/dashboard.js", "text/javascript"),
            ("/dashboard/dashboard.css", "text/css"),
        ):
            async with http.get(f"http://{d0.address}{path}") as resp:
                assert resp.status == 200 and resp.content_type == kind
                assert "http" not in (await resp.text()).replace("http://www.w3.org", "")
        async with http.get(f"http://{d0.address}/dashboard/../../etc/passwd") as resp:
            assert resp.status == 404
        async with http.get(f"http://{d0.address}/dashboard/nope.js") as resp:
            assert resp.status == 404


async def test_dashboard_sends_the_api_key_a_guarding_middleware_asks_for(browser, aiohttp_server):
    """Client API keys are checked by a middleware in front of every route; the page's data
    stream carries the key as `Authorization: Bearer`, taken once from `?key=` (then removed
    from the address) or typed into the form the page shows on 401."""
    key = "s3cret-key"

    @web.middleware
    async def require_key(request: web.Request, handler):
        if request.path == "/dashboard/events":
            if request.headers.get("Authorization") != f"Bearer {key}":
                return web.json_response({"error": "API key required"}, status=401)
        return await handler(request)

    log = RequestLog()
    app = web.Application(middlewares=[require_key])
    nodes = [{"name": "solo", "state": "alive", "tier": 0, "models": [], "active": 0,
              "capacity": 1, "queue": 0, "tps": {}, "utilisation": None}]  # fmt: skip
    feed = LiveFeed(log, interval=0.5, max_clients=4)
    add_dashboard_routes(app, log=log, node_name="solo", status=lambda: nodes, feed=feed)
    server = await aiohttp_server(app, host="127.0.0.1")
    base = f"http://127.0.0.1:{server.port}/dashboard"

    page = await browser.new_page()
    await page.goto(f"{base}?key={key}")
    await page.wait_for_selector('.card[data-node="solo"]', timeout=10_000)
    assert "key" not in page.url  # not left in the address bar or history

    fresh = await browser.new_page()  # a new tab knows no key: the page asks for one
    await fresh.goto(base)
    await fresh.wait_for_selector("#key-form:not([hidden])", timeout=10_000)
    await fresh.fill("#key", key)
    await fresh.click("#key-form button")
    await fresh.wait_for_selector('.card[data-node="solo"]', timeout=10_000)

"""`harombe cluster test`: check every peer in the view the way the cluster will use it.

Per peer: reachable (`/health`, RTT, clock skew from its `Date` header), authentication (a
request signed with a key nobody has must be refused, one signed with this config's key
accepted), alive in the view, and a one-token completion it serves itself. A peer failing any
check fails the test, and the exit code says so.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harombe.cli.client import client_session, get_json, unreachable
from harombe.cli.common import plural
from harombe.config import HarombeConfig
from harombe.inference.peer_wire import HOP_HEADER, SPONSORED_HEADER

TEST_TIMEOUT_S = 60.0
"""Seconds `harombe cluster test` gives each peer for its health check and one short completion
(a cold model may first have to load)."""


@dataclass
class PeerCheck:
    """One peer's results; a check left None was not reached (an earlier one failed)."""

    name: str
    address: str
    alive: bool
    backend_ok: bool
    reachable: bool = False
    auth: str = "-"
    """"ok" (it verifies signatures, and ours with this config's key), "no key" (a keyless
    cluster: nothing is authenticated), or why it failed."""
    skew_s: float | None = None
    rtt_ms: float | None = None
    completion: str = "-"
    routes_only: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.reachable and self.alive and not self.problems


def clock_skew(date_header: str | None, sent: float, received: float) -> float | None:
    """Seconds the peer's clock is ahead of this machine's, from its HTTP `Date` header and
    the local wall-clock times the request left and the answer came (±1 s: the header's
    resolution). None without a readable header."""
    if not date_header:
        return None
    try:
        theirs = email.utils.parsedate_to_datetime(date_header).timestamp()
    except (TypeError, ValueError):
        return None
    return theirs + 0.5 - (sent + received) / 2


TEST_SENDER = "harombe-cluster-test"


def _hop_headers(
    signer: Any,
    method: str,
    path: str,
    body: bytes,
    address: str,
    signed: dict[str, str] | None = None,
) -> dict[str, str]:
    """Hop headers (and the `signed` ones) for a request to the peer at `address`, signed
    for it when `signer`."""
    headers = {HOP_HEADER: TEST_SENDER, "Content-Type": "application/json", **(signed or {})}
    if signer is not None:
        headers.update(signer.headers(method, path, body, address, signed))
    return headers


async def _check_auth(
    http: aiohttp.ClientSession, url: str, address: str, cfg: HarombeConfig
) -> str:
    """Whether the peer checks peer signatures with this config's key: a request signed with
    a key nobody has must be refused (else the peer checks nothing), one signed with ours
    accepted (else its key differs)."""
    from harombe.api.peer_auth import RequestSigner

    stranger = RequestSigner([secrets.token_bytes(32)], sender=TEST_SENDER)
    async with http.get(
        f"{url}/api/tags", headers=_hop_headers(stranger, "GET", "/api/tags", b"", address)
    ) as r:
        checks_keys = r.status == 401
    keyring = cfg.security.keyring()
    if not keyring:
        return "ok" if not checks_keys else "it has a cluster key; this config has none"
    if not checks_keys:
        return "it has no cluster key: it accepts any peer (set security.cluster_key there)"
    ours = RequestSigner(keyring, sender=TEST_SENDER)
    async with http.get(
        f"{url}/api/tags", headers=_hop_headers(ours, "GET", "/api/tags", b"", address)
    ) as r:
        if r.status == 401:
            body = await r.json(content_type=None)
            return f"refused this config's key: {body.get('error', 'HTTP 401')}"
    return "ok"


async def check_peer(
    http: aiohttp.ClientSession, node: dict[str, Any], cfg: HarombeConfig
) -> PeerCheck:
    """Check one peer directly: reachable (`/health`, RTT, clock), authentication with this
    config's key, and a one-token completion it serves itself (the hop header keeps it from
    routing elsewhere). A plain server is checked through its sponsor, whose address it has."""
    from harombe.api.peer_auth import RequestSigner

    check = PeerCheck(
        name=str(node.get("name", "?")),
        address=str(node.get("address", "")),
        alive=node.get("state") == "alive",
        backend_ok=bool(node.get("backend_ok")),
    )
    if not check.alive:
        check.problems.append(f"{node.get('state', 'unknown')} in the view, not alive")
    url = f"{cfg.tls.scheme}://{check.address}"
    try:
        sent = time.time()
        started = time.perf_counter()
        async with http.get(f"{url}/health") as resp:
            check.reachable = resp.status == 200
        check.rtt_ms = (time.perf_counter() - started) * 1000
        check.skew_s = clock_skew(resp.headers.get("Date"), sent, time.time())
        check.auth = await _check_auth(http, url, check.address, cfg)
        body = {
            "model": "auto",
            "messages": [{"role": "user", "content": "Say hi."}],
            "stream": False,
            "options": {"num_predict": 1},
        }
        data = json.dumps(body).encode()
        keyring = cfg.security.keyring()
        signer = RequestSigner(keyring, sender=TEST_SENDER) if keyring else None
        # A plain server is served by its sponsor (harombe/sponsored.py).
        sponsored = {SPONSORED_HEADER: check.name} if node.get("via") else None
        headers = _hop_headers(signer, "POST", "/api/chat", data, check.address, sponsored)
        started = time.perf_counter()
        async with http.post(f"{url}/api/chat", data=data, headers=headers) as resp:
            answer = await resp.json(content_type=None)
            took = time.perf_counter() - started
            message = answer.get("error", answer) if isinstance(answer, dict) else answer
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        check.problems.append(unreachable(url, exc, TEST_TIMEOUT_S))
        return check
    if not check.reachable:
        check.problems.append("/health did not answer 200")
    if check.auth != "ok":
        check.problems.append(f"authentication: {check.auth}")
    window = cfg.security.request_window
    if check.skew_s is not None and abs(check.skew_s) > window - 1:
        check.problems.append(
            f"clock {check.skew_s:+.0f} s off this machine's: signed requests are refused "
            f"beyond {window:g} s; sync the clocks (NTP)"
        )
    if resp.status == 200:
        check.completion = f"ok {took:.2f}s"
    elif resp.status == 503 and not check.backend_ok and "routes only" in str(message):
        check.routes_only = True
        check.completion = "routes only"
    elif resp.status != 401:  # 401: already said under authentication
        check.problems.append(f"completion failed: HTTP {resp.status}: {message}")
    return check


async def test_cluster(url: str, cfg: HarombeConfig, console: Console) -> bool:
    """Check every peer in `url`'s view; print a table and each failure; True when all pass."""
    status = await get_json(url, "/cluster/status")
    nodes = [n for n in status.get("nodes", []) if n.get("state") != "left"]
    timeout = aiohttp.ClientTimeout(total=TEST_TIMEOUT_S)
    async with client_session(timeout) as http:
        checks = await asyncio.gather(*(check_peer(http, n, cfg) for n in nodes))
    table = Table(
        title=f"cluster test from {escape(str(status.get('node', '?')))}",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        collapse_padding=True,
        pad_edge=False,
    )
    for column in ("node", "address", "up", "key", "backend", "clock", "rtt ms", "answer"):
        folds = column in ("node", "address")  # the others keep their few characters whole
        table.add_column(column, no_wrap=not folds, overflow="fold" if folds else "ellipsis")
    keyless = not cfg.security.keyring()

    def mark(ok: bool) -> str:
        return "[green]yes[/]" if ok else "[red]no[/]"

    for c in checks:
        key = "[yellow]none[/]" if keyless and c.auth == "ok" else mark(c.auth == "ok")
        table.add_row(
            escape(c.name) if c.alive else f"[red]{escape(c.name)}[/]",
            escape(c.address),
            mark(c.reachable),
            key if c.auth != "-" else "-",
            "[dim]none[/]" if c.routes_only else mark(c.backend_ok),
            "-" if c.skew_s is None else f"{round(c.skew_s):+d}s",
            "-" if c.rtt_ms is None else f"{c.rtt_ms:.1f}",
            "[red]failed[/]" if c.completion == "-" else escape(c.completion),
        )
    console.print(table)
    for c in checks:
        for problem in c.problems:
            console.print(f"[red]{escape(c.name)}:[/] {escape(problem)}", soft_wrap=True)
    if keyless:
        console.print(
            "[yellow]no cluster key: peers and forwarded requests are unauthenticated[/] "
            "(set security.cluster_key on every machine)"
        )
    passed = sum(c.ok for c in checks)
    verdict = "[green]all passed[/]" if passed == len(checks) else "[red]some failed[/]"
    console.print(f"{passed}/{plural(len(checks), 'peer')} passed: {verdict}")
    answering = any(c.ok and not c.routes_only for c in checks)
    if not answering:
        console.print("[red]no peer serves a model: the cluster cannot answer anything[/]")
    return passed == len(checks) and answering

"""Talking to running peers from the command line: finding the nearest one, small JSON calls.

`find_peer` tries, in order: `--peer`, the local daemon, peers announced by mDNS on this LAN
(lowest measured RTT first; only with `cluster.mdns`, on `cluster.mdns_interfaces`), then the
configured seeds. Each failure becomes part of one readable line, never a traceback.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from pathlib import Path
from typing import Any

import aiohttp
from zeroconf import ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from harombe.cluster.discovery import SERVICE_TYPE, announced_address, label_hash
from harombe.config import HarombeConfig

PROBE_TIMEOUT_S = 1.5
"""Seconds a peer has for `GET /health` (and other small calls) before it counts as unreachable.
A peer on the LAN answers in milliseconds; a loaded one still well within this."""

MDNS_BROWSE_S = 1.5
"""Seconds `harombe` listens for peers announced by mDNS when no local daemon answers. Peers
answer a query within ~120 ms (RFC 6762 §6) and resolve from the same answer; the rest is slack
for busy machines and Wi-Fi, while the command still starts in under two seconds."""


API_KEY_ENV = "HAROMBE_API_KEY"
"""Environment variable holding the API key `harombe` sends (`Authorization: Bearer`)."""

_trusted_ca: Path | None = None


class PeerUnreachable(Exception):
    """No harombe peer answered; the message says, in one line, what was tried."""


def trust_ca(path: Path | None) -> None:
    """Verify HTTPS peers against the CA certificate(s) in `path` (`harombe --ca`)."""
    global _trusted_ca
    _trusted_ca = path


def client_session(timeout: aiohttp.ClientTimeout) -> aiohttp.ClientSession:
    """A session that sends $HAROMBE_API_KEY and verifies TLS peers against `--ca`."""
    key = os.environ.get(API_KEY_ENV, "").strip()
    headers = {"Authorization": f"Bearer {key}"} if key else None
    context = ssl.create_default_context(cafile=_trusted_ca) if _trusted_ca else True
    return aiohttp.ClientSession(
        timeout=timeout, headers=headers, connector=aiohttp.TCPConnector(ssl=context)
    )


def local_url(cfg: HarombeConfig) -> str:
    host = cfg.server.host if cfg.server.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    return f"{cfg.tls.scheme}://{host}:{cfg.server.port or 8765}"


def normalise_url(url: str) -> str:
    url = url.strip().rstrip("/")
    return url if "://" in url else f"http://{url}"


async def get_json(url: str, path: str, limit_s: float = PROBE_TIMEOUT_S) -> Any:
    try:
        async with client_session(aiohttp.ClientTimeout(total=limit_s)) as s:
            async with s.get(url + path) as resp:
                if resp.status != 200:
                    raise PeerUnreachable(f"{url}{path} answered HTTP {resp.status}")
                return await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise PeerUnreachable(unreachable(url, exc, limit_s)) from None


async def post_json(url: str, path: str, body: Any, limit_s: float = 30.0) -> Any:
    try:
        async with client_session(aiohttp.ClientTimeout(total=limit_s)) as s:
            async with s.post(url + path, json=body) as resp:
                data = await resp.json(content_type=None)
                if resp.status != 200:
                    message = data.get("error") if isinstance(data, dict) else data
                    if isinstance(message, dict):
                        message = message.get("message")
                    raise PeerUnreachable(f"{url}{path}: HTTP {resp.status}: {message}")
                return data
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise PeerUnreachable(unreachable(url, exc, limit_s)) from None


def unreachable(url: str, exc: BaseException, limit_s: float | None = None) -> str:
    """One line saying why `url` did not answer, without aiohttp's internals."""
    if isinstance(exc, TimeoutError):
        why = f"no answer within {limit_s:g} s" if limit_s else "timed out"
    elif isinstance(exc, aiohttp.ClientConnectorError):
        err = exc.os_error  # errno's text: asyncio's own strerror repeats the address
        why = os.strerror(err.errno) if err.errno and err.errno > 0 else str(err.strerror or err)
    elif isinstance(exc, ValueError):
        why = "the answer is not JSON; is this a harombe peer?"
    else:
        why = str(exc) or type(exc).__name__
    return f"no harombe peer answers at {url} ({why.lower()})"


async def measure_rtt(http: aiohttp.ClientSession, url: str) -> float | None:
    """Seconds for `GET /health` at `url`; None when it does not answer 200 in time."""
    started = time.perf_counter()
    try:
        async with http.get(f"{url}/health") as resp:
            await resp.read()
            if resp.status != 200:
                return None
    except (aiohttp.ClientError, TimeoutError):
        return None
    return time.perf_counter() - started


async def by_rtt(urls: list[str]) -> list[str]:
    """The peers among `urls` that answer `/health`, nearest (lowest RTT) first."""
    timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT_S)
    async with client_session(timeout) as http:
        rtts = await asyncio.gather(*(measure_rtt(http, url) for url in urls))
    answered = [(rtt, url) for rtt, url in zip(rtts, urls, strict=True) if rtt is not None]
    return [url for _, url in sorted(answered)]


async def browse_mdns(
    label: str, interfaces: list[str] | None, window_s: float = MDNS_BROWSE_S
) -> list[str]:
    """Addresses of peers of cluster `label` that mDNS finds within `window_s` seconds.

    Only listens and asks: the command line never announces itself. `interfaces` restricts
    mDNS to those addresses (None: all interfaces).
    """
    wanted = label_hash(label)
    found: dict[str, str] = {}
    resolving: list[asyncio.Task[None]] = []
    zc = AsyncZeroconf() if interfaces is None else AsyncZeroconf(interfaces=interfaces)

    async def resolve(name: str) -> None:
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        if await info.async_request(zc.zeroconf, window_s * 1000):
            address = announced_address(info, wanted)
            if address is not None:
                found[name] = address

    def on_change(
        zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if state_change is not ServiceStateChange.Removed:
            resolving.append(asyncio.create_task(resolve(name)))

    browser = AsyncServiceBrowser(zc.zeroconf, SERVICE_TYPE, handlers=[on_change])
    try:
        await asyncio.sleep(window_s)  # a browse window: everyone who answers in time counts
    finally:
        for task in resolving:
            task.cancel()
        await asyncio.gather(*resolving, return_exceptions=True)
        await browser.async_cancel()
        await zc.async_close()
    return list(dict.fromkeys(found.values()))


async def find_peer(cfg: HarombeConfig, explicit: str | None) -> str:
    """The URL of the peer to talk to; see the module docstring for the order.

    Raises PeerUnreachable with a message saying what was tried.
    """
    if explicit:
        url = normalise_url(explicit)
        await get_json(url, "/health")
        return url
    local = local_url(cfg)
    tried = [local]
    if await by_rtt([local]):
        return local
    if cfg.cluster.mdns:
        where = ", ".join(cfg.cluster.mdns_interfaces or []) or "this LAN"
        tried.append(f"mDNS on {where}")
        try:
            announced = await browse_mdns(cfg.cluster.label, cfg.cluster.mdns_interfaces)
        except OSError as exc:
            tried[-1] += f" ({exc.strerror or exc})"
            announced = []
        nearest = await by_rtt([f"{cfg.tls.scheme}://{a}" for a in announced])
        if nearest:
            return nearest[0]
    seeds = [f"{cfg.tls.scheme}://{s}" for s in cfg.cluster.seed_addresses()]
    tried.extend(seeds)
    reachable = await by_rtt(seeds) if seeds else []
    if reachable:
        return reachable[0]
    raise PeerUnreachable(
        "no harombe peer found (tried " + ", ".join(tried) + "); start one with `harombed`, "
        "or pass --peer URL"
    )

"""Talking to a running peer from the command line: finding one, and small JSON calls."""

from __future__ import annotations

from typing import Any

import aiohttp

from harombe.config import HarombeConfig

PROBE_TIMEOUT_S = 1.5


class PeerUnreachable(Exception):
    pass


def local_url(cfg: HarombeConfig) -> str:
    host = cfg.server.host if cfg.server.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    return f"http://{host}:{cfg.server.port or 8765}"


def normalise_url(url: str) -> str:
    url = url.rstrip("/")
    return url if "://" in url else f"http://{url}"


async def get_json(url: str, path: str, limit_s: float = PROBE_TIMEOUT_S) -> Any:
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=limit_s)) as s:
            async with s.get(url + path) as resp:
                if resp.status != 200:
                    raise PeerUnreachable(f"{url}{path} answered HTTP {resp.status}")
                return await resp.json()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise PeerUnreachable(_unreachable(url, exc)) from None


async def post_json(url: str, path: str, body: Any, limit_s: float = 30.0) -> Any:
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=limit_s)) as s:
            async with s.post(url + path, json=body) as resp:
                data = await resp.json(content_type=None)
                if resp.status != 200:
                    message = data.get("error") if isinstance(data, dict) else data
                    if isinstance(message, dict):
                        message = message.get("message")
                    raise PeerUnreachable(f"{url}{path}: HTTP {resp.status}: {message}")
                return data
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise PeerUnreachable(_unreachable(url, exc)) from None


def _unreachable(url: str, exc: BaseException) -> str:
    return f"no harombe peer answers at {url} ({exc or type(exc).__name__})"


async def find_peer(cfg: HarombeConfig, explicit: str | None) -> str:
    """The peer to talk to: --peer, else the local daemon, else a configured seed.

    Raises PeerUnreachable with a message saying what was tried.
    """
    if explicit:
        url = normalise_url(explicit)
        await get_json(url, "/health")
        return url
    tried = []
    for url in [local_url(cfg), *(f"http://{s}" for s in cfg.cluster.seed_addresses())]:
        try:
            await get_json(url, "/health")
            return url
        except PeerUnreachable:
            tried.append(url)
    raise PeerUnreachable(
        "no harombe peer found (tried " + ", ".join(tried) + "); start one with `harombed`, "
        "or pass --peer URL"
    )

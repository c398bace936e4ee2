"""`harombe cluster init|status|add|remove|test`: set up and check a cluster."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from rich.console import Console
from rich.table import Table

from harombe.cli.client import PeerUnreachable, get_json
from harombe.config import DEFAULT_CONFIG_PATH, HarombeConfig, parse_address

TEST_TIMEOUT_S = 60.0


def render_init_config(
    *,
    name: str,
    tier: int,
    model: str,
    hardware_line: str,
    reason: str,
    ollama_models: list[str],
    cluster_key: str,
) -> str:
    """A commented starting config for this machine."""
    found = ", ".join(ollama_models) if ollama_models else "none found (is Ollama running?)"
    return f"""\
# harombe configuration for {name}, written by `harombe cluster init`.
# Every key is described in docs/configuration-reference.md.
#
# Detected: {hardware_line}
# Recommendation: {reason}
# Models on the local Ollama: {found}

node:
  name: {name}
  # 0 = fast/small, 1 = balanced, 2 = most capable. Your call: harombe never assumes.
  tier: {tier}

server:
  host: 0.0.0.0
  port: 8765

backend:
  kind: ollama            # or: openai (llama.cpp server, vLLM, LM Studio), llamacpp, none
  url: http://127.0.0.1:11434
  model: {model}

cluster:
  label: harombe          # peers with another label ignore each other
  mdns: true              # find peers on this LAN automatically
  seeds: []               # HOST:PORT of peers mDNS cannot reach (other subnets, VPN, cloud)

routing:
  prefer_local: true
  fallback_strategy: graceful   # or strict: never leave the requested tier
  load_balance: true

security:
  # Copy this same key to every machine of the cluster; peers without it are never admitted.
  cluster_key: {cluster_key}
"""


async def init_config_text() -> tuple[str, str]:
    """Detect this machine and the local Ollama; return (config text, one-line summary)."""
    from harombe.hardware import detect_async, recommend
    from harombe.inference.ollama import OllamaBackend

    info = await detect_async()
    rec = recommend(info)
    backend = OllamaBackend("http://127.0.0.1:11434")
    try:
        ollama_models = [m.name for m in await asyncio.wait_for(backend.list_models(), 3)]
    except Exception:  # Ollama absent or unreachable: the file says so
        ollama_models = []
    finally:
        await backend.aclose()
    summary = info.summary()
    hardware_line = (
        f"{summary.get('kind')}, {summary.get('gpu') or 'no GPU'}, "
        f"{summary.get('ram_gb')} GB RAM, {summary.get('cores')} cores"
    )
    model = rec.model if rec.model in ollama_models or not ollama_models else ollama_models[0]
    text = render_init_config(
        name=info.hostname.split(".")[0] or "harombe",
        tier=rec.tier,
        model=model,
        hardware_line=hardware_line,
        reason=rec.reason,
        ollama_models=ollama_models,
        cluster_key=secrets.token_urlsafe(32),
    )
    return text, f"tier {rec.tier}, model {model}"


def write_private(path: Path, text: str) -> None:
    """Write atomically, readable by the owner only (the file holds the cluster key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.chmod(0o600)
    tmp.replace(path)


def config_path(explicit: Path | None) -> Path:
    return explicit.expanduser() if explicit else DEFAULT_CONFIG_PATH


def _edit_yaml(path: Path, edit) -> None:
    data: dict[str, Any] = {}
    if path.exists():
        data = yaml.safe_load(path.read_text()) or {}
    edit(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def add_seed(path: Path, address: str) -> bool:
    """Add a seed to the config file; False when it was already there."""
    address = parse_address(address)
    added = False

    def edit(data: dict[str, Any]) -> None:
        nonlocal added
        seeds = data.setdefault("cluster", {}).setdefault("seeds", [])
        if address not in seeds:
            seeds.append(address)
            added = True

    _edit_yaml(path, edit)
    return added


def remove_seed(path: Path, name_or_address: str) -> list[str]:
    """Drop seeds and listed nodes matching a name or address; returns what was removed."""
    removed: list[str] = []

    def edit(data: dict[str, Any]) -> None:
        cluster = data.get("cluster") or {}
        target = name_or_address
        try:
            target_address = parse_address(name_or_address)
        except ValueError:
            target_address = None
        seeds = cluster.get("seeds") or []
        keep = [s for s in seeds if s not in (target, target_address)]
        removed.extend(s for s in seeds if s not in keep)
        nodes = cluster.get("nodes") or []
        kept_nodes = [n for n in nodes if n.get("name") != target]
        removed.extend(n["name"] for n in nodes if n not in kept_nodes)
        if cluster:
            cluster["seeds"] = keep
            if "nodes" in cluster:
                cluster["nodes"] = kept_nodes

    if path.exists():
        _edit_yaml(path, edit)
    return removed


async def tell_daemon_join(url: str, address: str) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        async with http.post(f"{url}/cluster/join", json={"address": address}) as resp:
            if resp.status != 200:
                raise PeerUnreachable(f"the daemon at {url} refused the join: HTTP {resp.status}")


def status_summary(status: dict[str, Any]) -> str:
    nodes = status.get("nodes", [])
    counts: dict[str, int] = {}
    for node in nodes:
        counts[node.get("state", "?")] = counts.get(node.get("state", "?"), 0) + 1
    alive = [n for n in nodes if n.get("state") == "alive"]
    tiers = sorted({n.get("tier") for n in alive if n.get("tier") is not None})
    models = sorted({m for n in alive for m in n.get("models") or []})
    states = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    return (
        f"cluster seen from {status.get('node', '?')}: {len(nodes)} nodes ({states}); "
        f"tiers served: {', '.join(map(str, tiers)) or 'none'}; "
        f"models: {', '.join(models) or 'none'}"
    )


@dataclass
class PeerCheck:
    name: str
    address: str
    reachable: bool = False
    admitted: bool = False
    backend_ok: bool = False
    rtt_ms: float | None = None
    completion: str = "-"
    error: str = ""


async def check_peer(
    http: aiohttp.ClientSession, node: dict[str, Any], cfg: HarombeConfig
) -> PeerCheck:
    from harombe.api.peer_auth import RequestSigner

    check = PeerCheck(name=node["name"], address=node.get("address", ""))
    check.admitted = node.get("state") == "alive"
    check.backend_ok = bool(node.get("backend_ok"))
    url = f"http://{check.address}"
    try:
        started = time.perf_counter()
        async with http.get(f"{url}/health") as resp:
            check.reachable = resp.status == 200
        check.rtt_ms = (time.perf_counter() - started) * 1000
        body = {
            "model": "auto",
            "messages": [{"role": "user", "content": "Say hi."}],
            "stream": False,
            "options": {"num_predict": 4},
        }
        data = json.dumps(body).encode()
        headers = {"X-Harombe-Hop": "harombe-cluster-test", "Content-Type": "application/json"}
        keyring = cfg.security.keyring()
        if keyring:
            headers.update(RequestSigner(keyring).headers("POST", "/api/chat", data))
        started = time.perf_counter()
        async with http.post(f"{url}/api/chat", data=data, headers=headers) as resp:
            answer = await resp.json(content_type=None)
            if resp.status != 200:
                raise PeerUnreachable(f"HTTP {resp.status}: {answer.get('error', answer)}")
        took = time.perf_counter() - started
        check.completion = f"ok in {took:.2f}s"
    except (aiohttp.ClientError, TimeoutError, PeerUnreachable) as exc:
        check.error = str(exc) or type(exc).__name__
    return check


async def test_cluster(url: str, cfg: HarombeConfig, console: Console) -> bool:
    status = await get_json(url, "/cluster/status")
    nodes = [n for n in status.get("nodes", []) if n.get("state") != "left"]
    timeout = aiohttp.ClientTimeout(total=TEST_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        checks = await asyncio.gather(*(check_peer(http, n, cfg) for n in nodes))
    table = Table(title=f"cluster test from {status.get('node', '?')}")
    for column in ("node", "address", "reachable", "admitted", "backend", "rtt ms", "completion"):
        table.add_column(column)

    def mark(ok: bool) -> str:
        return "[green]yes[/]" if ok else "[red]no[/]"

    for c in checks:
        table.add_row(
            c.name,
            c.address,
            mark(c.reachable),
            mark(c.admitted),
            mark(c.backend_ok),
            "-" if c.rtt_ms is None else f"{c.rtt_ms:.1f}",
            c.completion if not c.error else f"[red]{c.error}[/]",
        )
    console.print(table)
    return all(c.reachable and c.admitted and not c.error for c in checks)

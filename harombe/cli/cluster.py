"""`harombe cluster init|status|add|remove|test`: set up and check a cluster."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harombe.cli.client import (
    PROBE_TIMEOUT_S,
    PeerUnreachable,
    get_json,
    post_json,
)
from harombe.cli.common import plural
from harombe.config import DEFAULT_CONFIG_PATH, ConfigError, HarombeConfig, parse_address

OLLAMA_URL = "http://127.0.0.1:11434"
OLLAMA_PROBE_S = 3.0
"""Seconds `harombe cluster init` waits for the local Ollama to list its models."""


def render_init_config(
    *,
    name: str,
    tier: int,
    model: str,
    hardware_line: str,
    reason: str,
    ollama_models: list[str] | None,
    cluster_key: str,
) -> str:
    """A commented starting config for this machine (`ollama_models` None: Ollama absent)."""
    if ollama_models is None:
        found = f"no Ollama answers at {OLLAMA_URL} (install or start it, or change backend)"
    else:
        found = ", ".join(ollama_models) or "none yet (ollama pull MODEL)"
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
  url: {OLLAMA_URL}
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
  cluster_key: "{cluster_key}"
"""


@dataclass
class InitPlan:
    text: str  # the config file
    tier: int
    model: str
    ollama_models: list[str] | None  # None: no Ollama answered

    def summary(self) -> str:
        return f"tier {self.tier}, model {self.model}"


async def _ollama_models() -> list[str] | None:
    from harombe.inference.ollama import OllamaBackend

    backend = OllamaBackend(OLLAMA_URL)
    try:
        return [m.name for m in await asyncio.wait_for(backend.list_models(), OLLAMA_PROBE_S)]
    # Absent, refusing, slow or answering nonsense: for `init` all mean "no usable Ollama".
    except Exception:
        return None
    finally:
        await backend.aclose()


async def plan_init() -> InitPlan:
    """Detect this machine and the local Ollama; the commented config to write."""
    from harombe.hardware import detect_async, recommend

    info, found = await asyncio.gather(detect_async(), _ollama_models())
    ollama_models = found or []
    rec = recommend(info)
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
        ollama_models=found,
        cluster_key=secrets.token_urlsafe(32),
    )
    return InitPlan(text=text, tier=rec.tier, model=model, ollama_models=found)


def write_private(path: Path, text: str) -> None:
    """Write atomically, readable by the owner only (the file holds the cluster key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.chmod(0o600)
    tmp.replace(path)


def config_path(explicit: Path | None) -> Path:
    """The file `--config` names, else $HAROMBE_CONFIG, else ~/.harombe/harombe.yaml (as the
    daemon reads it)."""
    if explicit:
        return explicit.expanduser()
    from_env = os.environ.get("HAROMBE_CONFIG")
    return Path(from_env).expanduser() if from_env else DEFAULT_CONFIG_PATH


def _edit_config(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    """Apply `edit` to the config's data and write it back, keeping the file's comments when
    only the `cluster.seeds` and `cluster.excluded` lists changed (the usual case); otherwise
    the YAML is written anew."""
    text = path.read_text() if path.exists() else ""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc}); fix it first") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    before = copy.deepcopy(data)
    edit(data)
    if data == before:
        return
    new_text: str | None = text
    old, new = (before.get("cluster") or {}), (data.get("cluster") or {})
    for key in ("seeds", "excluded"):
        if new_text is not None and old.get(key) != new.get(key):
            new_text = _with_list(new_text, key, new.get(key) or [])
    if new_text is None or yaml.safe_load(new_text) != data:
        new_text = yaml.safe_dump(data, sort_keys=False)
    write_private(path, new_text)


def _with_list(text: str, key: str, values: list[str]) -> str | None:
    """`text` with the `cluster.KEY` list set to `values`, comments kept; None when the file's
    layout is not the simple one this handles (the caller then rewrites the YAML)."""
    list_line = re.compile(
        rf"(?P<indent>[ \t]+){key}:[ \t]*(?:\[[^#\n]*\])?[ \t]*(?P<comment>#.*)?"
    )
    flow = "[" + ", ".join(json.dumps(s) for s in values) + "]"
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if re.fullmatch(r"cluster:[ \t]*(#.*)?", line)]
    if not starts:
        return (
            text
            + ("" if text.endswith("\n") or not text else "\n")
            + f"cluster:\n  {key}: {flow}\n"
        )
    first = starts[0] + 1
    end = next(
        (i for i in range(first, len(lines)) if lines[i][:1] not in ("", " ", "\t", "#")),
        len(lines),
    )
    for i in range(first, end):
        match = list_line.fullmatch(lines[i])
        if match is None:
            continue
        indent = match["indent"]
        stop = i + 1
        while stop < end and (
            not lines[stop].strip()
            or len(lines[stop]) - len(lines[stop].lstrip()) > len(indent)
            or lines[stop].startswith(f"{indent}- ")
        ):
            stop += 1
        comment = f"  {match['comment']}" if match["comment"] else ""
        lines[i:stop] = [f"{indent}{key}: {flow}{comment}"]
        return "\n".join(lines) + "\n"
    lines.insert(first, f"  {key}: {flow}")
    return "\n".join(lines) + "\n"


def _cluster_section(data: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(data.get("cluster"), dict):
        data["cluster"] = {}
    return data["cluster"]


def add_seed(path: Path, address: str) -> bool:
    """Add a seed to the config file; False when it was already there."""
    address = parse_address(address)
    added = False

    def edit(data: dict[str, Any]) -> None:
        nonlocal added
        cluster = _cluster_section(data)
        seeds = cluster.get("seeds") or []
        if address not in seeds:
            cluster["seeds"] = [*seeds, address]
            added = True

    _edit_config(path, edit)
    return added


def remove_seed(path: Path, name_or_address: str) -> list[str]:
    """Drop seeds and listed nodes matching a name or address; returns what was removed."""
    removed: list[str] = []
    try:
        target_address = parse_address(name_or_address)
    except ValueError:
        target_address = None
    targets = {name_or_address, target_address}

    def edit(data: dict[str, Any]) -> None:
        cluster = data.get("cluster")
        if not isinstance(cluster, dict):
            return
        seeds = cluster.get("seeds") or []
        removed.extend(s for s in seeds if s in targets)
        if any(s in targets for s in seeds):
            cluster["seeds"] = [s for s in seeds if s not in targets]
        nodes = cluster.get("nodes") or []
        gone = [n for n in nodes if isinstance(n, dict) and n.get("name") in targets]
        if gone:
            removed.extend(n["name"] for n in gone)
            cluster["nodes"] = [n for n in nodes if n not in gone]

    if path.exists():
        _edit_config(path, edit)
    return removed


def own_addresses(cfg: HarombeConfig) -> set[str]:
    """HOST:PORT forms that name this machine's own peer in `cfg`: its listen and advertised
    addresses, and loopback when it listens on every interface or on loopback."""
    hosts = {cfg.server.advertise_host, cfg.server.host}
    if cfg.server.host in ("0.0.0.0", "::", "") or cfg.server.host.startswith("127."):
        hosts |= {"127.0.0.1", "localhost"}
    port = cfg.server.port or 8765
    return {parse_address(f"{h}:{port}") for h in hosts if h and h not in ("0.0.0.0", "::")}


async def running_self_address(url: str) -> str | None:
    """The address the daemon at `url` advertises for itself; None when none answers."""
    try:
        status = await get_json(url, "/cluster/status")
    except PeerUnreachable:
        return None
    return next((n.get("address") for n in status.get("nodes", []) if n.get("self")), None)


def set_excluded(path: Path, names: list[str], excluded: bool) -> list[str]:
    """Add `names` to (or drop them from) `cluster.excluded` in the config file, where the
    exclusion persists across restarts; returns the names whose state changed."""
    changed: list[str] = []

    def edit(data: dict[str, Any]) -> None:
        cluster = _cluster_section(data)
        current = list(cluster.get("excluded") or [])
        for name in names:
            if (name in current) != excluded:
                changed.append(name)
                current = [*current, name] if excluded else [n for n in current if n != name]
        if changed:
            cluster["excluded"] = current

    if excluded or path.exists():
        _edit_config(path, edit)
    return changed


async def view_addresses(url: str) -> dict[str, str] | None:
    """Node name → address in the view of the daemon at `url`; None when none answers."""
    try:
        status = await get_json(url, "/cluster/status")
    except PeerUnreachable:
        return None
    return {str(n.get("name")): str(n.get("address")) for n in status.get("nodes", [])}


def names_at(target: str, view: dict[str, str], listed: list[str]) -> list[str]:
    """The node names `target` designates: itself when it is a node's name (in the view or
    listed in the config), else the nodes at that address."""
    if target in view or target in listed:
        return [target]
    try:
        address = parse_address(target)
    except ValueError:
        return []
    return sorted(name for name, at in view.items() if at == address)


async def tell_daemon_exclude(url: str, name: str, excluded: bool) -> None:
    """Ask the daemon at `url` (loopback only) to exclude `name` from routing, or stop."""
    body = {"name": name, "excluded": excluded}
    await post_json(url, "/cluster/exclude", body, limit_s=PROBE_TIMEOUT_S)


async def tell_daemon_join(url: str, address: str) -> None:
    """Ask the daemon at `url` (on this machine: it accepts joins from loopback only) to join."""
    await post_json(url, "/cluster/join", {"address": address}, limit_s=PROBE_TIMEOUT_S)


def status_summary(status: dict[str, Any]) -> str:
    nodes = status.get("nodes", [])
    counts: dict[str, int] = {}
    for node in nodes:
        counts[node.get("state", "?")] = counts.get(node.get("state", "?"), 0) + 1
    serving = [n for n in nodes if n.get("state") == "alive" and n.get("backend_ok")]
    tiers = sorted({n.get("tier") for n in serving if n.get("tier") is not None})
    models = sorted({m for n in serving for m in n.get("models") or []})
    states = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    return (
        f"cluster seen from {status.get('node', '?')}: {plural(len(nodes), 'node')} ({states}); "
        f"tiers served: {', '.join(map(str, tiers)) or 'none'}; "
        f"models: {', '.join(models) or 'none'}"
    )

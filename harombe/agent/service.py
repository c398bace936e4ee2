"""`AgentService`: one peer's agent, wired — its tools, conversation store, confirmations, and
the way to other peers' tools. `Node` owns it: `start()` after routing is up, `close()` on exit.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from pathlib import Path

from harombe.agent.config import AgentConfig
from harombe.agent.confirm import Confirmations
from harombe.agent.files import Workspace
from harombe.agent.loop import Agent, TurnRequest
from harombe.agent.mcp_tools import McpServer
from harombe.agent.peers import PeerDirectory, PeerLink
from harombe.agent.shell import Shell
from harombe.agent.store import ConversationStore
from harombe.agent.tools import Tool, ToolError, ToolRegistry
from harombe.agent.web import WebTools
from harombe.inference.types import Message
from harombe.routing import classify
from harombe.routing.route import Coordinator

log = logging.getLogger(__name__)

NEVER_SHARED = ("shell",)  # needs a person at this peer's client to confirm


class UnknownTool(KeyError):
    """A tool name that neither this peer nor any live peer has."""


class AgentService:
    def __init__(
        self,
        config: AgentConfig,
        *,
        node_name: str,
        home: Path,
        coordinator: Coordinator,
        peers: PeerDirectory | None = None,
        link: PeerLink | None = None,
    ) -> None:
        self.config = config
        self.node_name = node_name
        self.peers = peers
        self.link = link
        self.registry = ToolRegistry()
        data_dir = config.data_dir or home
        self.store = ConversationStore(
            data_dir / "conversations" / f"{_file_name(node_name)}.sqlite3", node_name
        )
        self.confirmations = Confirmations(node_name, config.confirm_timeout)
        self.workspace_root = config.workspace or home / "workspace"
        self._mcp: list[McpServer] = []
        self.active_turns = 0  # turns running now (bounded by `max_active_turns`)
        self.agent = Agent(
            config,
            coordinator=coordinator,
            tools=self.tools_for,
            store=self.store,
            confirmations=self.confirmations,
            classify=classify,
        )

    async def start(self) -> None:
        cfg = self.config
        await self.store.open()
        workspace = await asyncio.to_thread(
            Workspace,
            self.workspace_root,
            max_bytes=cfg.max_file_bytes,
            max_matches=cfg.max_search_matches,
        )
        self.registry.extend(workspace.tools())
        shell = Shell(workspace.root, timeout=cfg.shell_timeout, max_output=cfg.max_tool_output)
        if (tool := shell.tool(cfg.shell)) is not None:
            self.registry.add(tool)
        self.registry.extend(WebTools(cfg).tools())
        for name, server_config in cfg.mcp_servers.items():
            server = McpServer(name, server_config, call_timeout=cfg.shell_timeout)
            self._mcp.append(server)
            self.registry.extend(await server.start())
        log.info("agent tools: %s", ", ".join(self.registry.names()))

    async def close(self) -> None:
        for server in reversed(self._mcp):
            await server.close()
        await self.store.close()

    def shared_tools(self) -> list[str]:
        """The tools this peer runs for others (gossiped in its record)."""
        shared = set(self.config.shared_tools) - set(NEVER_SHARED)
        return [name for name in self.registry.names() if name in shared]

    def shared_schemas(self) -> list[dict]:
        return [self.registry.tools[name].schema() for name in self.shared_tools()]

    async def run_shared(self, name: str, arguments: dict) -> tuple[bool, str]:
        """Run one of this peer's shared tools for another peer."""
        if name not in self.shared_tools():
            return False, f"peer {self.node_name} does not share a tool {name!r}"
        tool = self.registry.tools[name]
        try:
            tool.check(arguments)
            return True, await tool.run(arguments)
        except ToolError as exc:
            return False, str(exc)
        except OSError as exc:
            return False, f"{name} failed: {exc}"

    def known_tools(self) -> list[str]:
        remote = self.peers.shared_tools() if self.peers else {}
        return [*self.registry.names(), *(n for n in remote if n not in self.registry.tools)]

    async def tools_for(self, names: Iterable[str] | None) -> list[Tool]:
        """The tools to offer: local ones by name, else from a live peer that shares them.
        None: every local tool. Raises UnknownTool."""
        if names is None:
            return self.registry.all()
        picked: list[Tool] = []
        remote_cache: dict[str, list[Tool]] = {}
        owners = self.peers.shared_tools() if self.peers else {}
        for name in names:
            if (tool := self.registry.get(name)) is not None:
                picked.append(tool)
                continue
            picked.append(await self._remote(name, owners.get(name, []), remote_cache))
        return picked

    async def _remote(self, name: str, owners: list[str], cache: dict[str, list[Tool]]) -> Tool:
        for peer in owners:
            address = self.peers.address_of(peer) if self.peers else None
            if address is None or self.link is None:
                continue
            if peer not in cache:
                try:
                    cache[peer] = await self.link.remote_tools(peer, address)
                except ToolError as exc:
                    log.warning("cannot list the tools of %s: %s", peer, exc)
                    cache[peer] = []
            for tool in cache[peer]:
                if tool.name == name:
                    return tool
        raise UnknownTool(name)

    def turn(self, request: TurnRequest, conversation: str, history: list[Message]):
        return self.agent.turn(request, conversation, history)


def _file_name(node_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", node_name) or "peer"

"""The agent's dealings with other peers: running a tool a peer owns, reaching a conversation's
owner. Requests go with the hop header, signed with the cluster key (api/peer_auth.py's
scheme), so the receiving peer serves them itself and can tell a peer from a client.

`PeerDirectory` is what the agent needs of membership: a live peer's address by name, and which
peers share which tools (the `tools` field of their gossiped records).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import aiohttp

from harombe.agent.tools import Tool, ToolError
from harombe.api.peer_auth import HOP_HEADER, RequestSigner
from harombe.cluster.membership import MemberView

TOOLS_PATH = "/cluster/agent/tools"
TOOL_CALL_PATH = "/cluster/agent/tool"


class PeerDirectory(Protocol):
    def address_of(self, name: str) -> str | None:
        """host:port of the live peer `name`; None when it is not alive in the view."""
        ...

    def shared_tools(self) -> dict[str, list[str]]:
        """Tool name -> live peers (other than this one) that share it."""
        ...


class MembershipPeers:
    """`PeerDirectory` over the membership view: the members it sees alive, their records."""

    def __init__(self, members: Callable[[], Iterable[MemberView]]) -> None:
        self._members = members

    def _alive(self) -> list[MemberView]:
        return [m for m in self._members() if not m.is_self and m.state.label == "alive"]

    def address_of(self, name: str) -> str | None:
        return next((m.address for m in self._alive() if m.name == name), None)

    def shared_tools(self) -> dict[str, list[str]]:
        owners: dict[str, list[str]] = {}
        for member in self._alive():
            for tool in member.record.tools if member.record else []:
                owners.setdefault(tool, []).append(member.name)
        return owners


class PeerLink:
    """Signed requests to other peers over one aiohttp session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        origin: str,
        signer: RequestSigner | None,
        timeout: float,
        scheme: str = "http",
    ) -> None:
        self.session = session
        self.origin = origin
        self.signer = signer
        self.timeout = timeout
        self.scheme = scheme  # "https" when the cluster speaks TLS

    def url(self, address: str, path: str) -> str:
        return f"{self.scheme}://{address}{path}"

    def headers(self, method: str, path: str, body: bytes, address: str) -> dict[str, str]:
        headers = {HOP_HEADER: self.origin, "Content-Type": "application/json"}
        if self.signer is not None:
            headers.update(self.signer.headers(method, path, body, address))
        return headers

    async def call_json(self, address: str, method: str, path: str, payload: Any = None) -> Any:
        body = b"" if payload is None else json.dumps(payload).encode()
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            async with self.session.request(
                method,
                self.url(address, path),
                data=body,
                headers=self.headers(method, path, body, address),
                timeout=timeout,
            ) as resp:
                data = await resp.json(content_type=None)
                if resp.status != 200:
                    message = data.get("error") if isinstance(data, dict) else data
                    raise ToolError(f"peer {address} answered HTTP {resp.status}: {message}")
                return data
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ToolError(f"peer {address} did not answer: {exc or type(exc).__name__}") from None

    async def remote_tools(self, peer: str, address: str) -> list[Tool]:
        """The tools `peer` shares, as tools that run there."""
        listed = await self.call_json(address, "GET", TOOLS_PATH)
        tools = []
        for schema in listed.get("tools", []) if isinstance(listed, dict) else []:
            function = schema.get("function", {}) if isinstance(schema, dict) else {}
            name = function.get("name")
            if isinstance(name, str):
                tools.append(self._remote_tool(peer, address, name, function))
        return tools

    def _remote_tool(self, peer: str, address: str, name: str, function: dict[str, Any]) -> Tool:
        async def run(arguments: dict[str, Any]) -> str:
            result = await self.call_json(
                address, "POST", TOOL_CALL_PATH, {"name": name, "arguments": arguments}
            )
            if not isinstance(result, dict) or not isinstance(result.get("output"), str):
                raise ToolError(f"peer {peer} sent no tool output")
            if not result.get("ok"):
                raise ToolError(result["output"])
            return result["output"]

        parameters = function.get("parameters")
        return Tool(
            name=name,
            description=str(function.get("description", "")),
            parameters=parameters if isinstance(parameters, dict) else {"type": "object"},
            run=run,
            remote=peer,
        )

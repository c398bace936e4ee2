"""Tools from MCP servers (`agent.mcp_servers`): each one a subprocess speaking MCP over stdio,
through the official `mcp` client. Its tools join the registry as `SERVER_TOOL`.

Each server lives in its own task (the `mcp` client's anyio scopes must be entered and left in
one task): the task starts the process, lists its tools, then waits until `close()`; tool calls
from any task go through its session. `mcp` is imported only when a server is configured: it is
a large package, and most peers run none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from harombe.agent.config import McpServerConfig
from harombe.agent.tools import Tool, ToolError

if TYPE_CHECKING:
    from mcp import ClientSession

log = logging.getLogger(__name__)

START_TIMEOUT_S = 20.0  # a server that has not listed its tools by then is left out


class McpServer:
    def __init__(self, name: str, config: McpServerConfig, *, call_timeout: float) -> None:
        self.name = name
        self.config = config
        self.call_timeout = call_timeout
        self.tools: list[Tool] = []
        self._session: ClientSession | None = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None

    async def start(self) -> list[Tool]:
        """Start the server and return its tools (none, logged, when it fails to start)."""
        self._task = asyncio.create_task(self._serve(), name=f"harombe-mcp-{self.name}")
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                await self._ready.wait()
        except TimeoutError:
            log.warning("MCP server %s did not start within %g s", self.name, START_TIMEOUT_S)
            await self.close()
            return []
        if self._error is not None:
            log.warning("MCP server %s failed to start: %s", self.name, self._error)
        return self.tools

    async def close(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), 5.0)
            if not self._task.done():
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task

    async def _serve(self) -> None:
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client

        params = StdioServerParameters(
            command=self.config.command, args=self.config.args, env=self.config.env or None
        )
        try:
            async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                listed = await session.list_tools()
                self._session = session
                self.tools = [
                    self._tool(t.name, t.description, t.input_schema) for t in listed.tools
                ]
                self._ready.set()
                await self._stop.wait()
        except Exception as exc:  # a broken server must not take the peer down
            self._error = exc
        finally:
            self._session = None
            self._ready.set()

    def _tool(self, name: str, description: str | None, schema: dict[str, Any]) -> Tool:
        async def run(arguments: dict[str, Any]) -> str:
            return await self._call(name, arguments)

        parameters = dict(schema or {"type": "object", "properties": {}})
        parameters.pop("title", None)
        return Tool(
            name=f"{self.name}_{name}",
            description=description or f"{name} (from MCP server {self.name})",
            parameters=parameters,
            run=run,
        )

    async def _call(self, name: str, arguments: dict[str, Any]) -> str:
        session = self._session
        if session is None:
            raise ToolError(f"MCP server {self.name} is not running")
        try:
            result = await session.call_tool(
                name, arguments, read_timeout_seconds=self.call_timeout
            )
        except Exception as exc:
            raise ToolError(f"MCP server {self.name}: {exc}") from None
        text = "\n".join(getattr(c, "text", f"[{c.type} content]") for c in result.content)
        if result.is_error:
            raise ToolError(text or f"MCP tool {name} failed")
        return text

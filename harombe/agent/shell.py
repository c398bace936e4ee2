"""The `shell` tool: one command through /bin/sh in the workspace, with a timeout and an
output cap, stdin closed. Whether it may run at all is `agent.shell` (off, confirm, allow); the
confirmation itself is the agent loop's job (`Tool.needs_confirm`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import Annotated

from pydantic import Field

from harombe.agent.tools import Tool


class Shell:
    def __init__(self, workspace: Path, *, timeout: float, max_output: int) -> None:
        self.workspace = workspace
        self.timeout = timeout
        self.max_output = max_output

    def tool(self, mode: str) -> Tool | None:
        if mode == "off":
            return None
        return Tool.from_function(self.shell, needs_confirm=mode == "confirm")

    async def shell(
        self, command: Annotated[str, Field(description="A /bin/sh command line.")]
    ) -> str:
        """Run a shell command in the workspace and return its exit status and output."""
        process = await asyncio.create_subprocess_shell(
            command,
            cwd=self.workspace,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a timeout kills its children
        )
        assert process.stdout is not None
        output = bytearray()
        try:
            async with asyncio.timeout(self.timeout):
                while chunk := await process.stdout.read(65536):
                    if len(output) <= self.max_output:
                        output += chunk
                status = await process.wait()
        except TimeoutError:
            _kill_group(process)
            await process.wait()
            return f"timed out after {self.timeout:g} s; output so far:\n{_text(output, self)}"
        except BaseException:
            _kill_group(process)
            raise
        return f"exit status {status}\n{_text(output, self)}"


def _text(output: bytearray, shell: Shell) -> str:
    text = output[: shell.max_output].decode(errors="replace")
    if len(output) > shell.max_output:
        text += f"\n[output cut at {shell.max_output} bytes]"
    return text


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)

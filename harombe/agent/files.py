"""File tools confined to one workspace directory.

Every path the model gives is resolved (`realpath`, so `..` and symlinks are followed) and must
land inside the workspace's own resolved path; anything else is refused before it is opened.
Sizes are capped: a file larger than `max_bytes` is neither read, written nor searched. All
file I/O runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
from pathlib import Path
from typing import Annotated

from pydantic import Field

from harombe.agent.tools import Tool, ToolError

MAX_LISTED = 500  # entries list_dir returns at most
MAX_SEARCHED_FILES = 5000  # files search_files looks at, at most


class Workspace:
    """The directory the agent may touch, and the checks that keep it there."""

    def __init__(self, root: Path, *, max_bytes: int, max_matches: int) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = Path(os.path.realpath(root))
        self.max_bytes = max_bytes
        self.max_matches = max_matches

    def resolve(self, path: str) -> Path:
        """The real path of `path` (relative to the workspace); ToolError if it leaves it."""
        if "\x00" in path:
            raise ToolError("path contains a NUL byte")
        real = Path(os.path.realpath(self.root / path))
        if real != self.root and self.root not in real.parents:
            raise ToolError(f"{path!r} is outside the workspace; paths are relative to it")
        return real

    def shown(self, real: Path) -> str:
        return str(real.relative_to(self.root)) if real != self.root else "."

    def tools(self) -> list[Tool]:
        return [
            Tool.from_function(self.read_file),
            Tool.from_function(self.list_dir),
            Tool.from_function(self.write_file),
            Tool.from_function(self.search_files),
        ]

    async def read_file(
        self, path: Annotated[str, Field(description="File path, relative to the workspace.")]
    ) -> str:
        """Read a text file from the workspace."""
        real = self.resolve(path)
        return await asyncio.to_thread(self._read, real)

    async def list_dir(
        self,
        path: Annotated[str, Field(description="Directory, relative to the workspace.")] = ".",
    ) -> str:
        """List a workspace directory: one entry per line, directories end with '/'."""
        real = self.resolve(path)
        return await asyncio.to_thread(self._list, real)

    async def write_file(
        self,
        path: Annotated[str, Field(description="File path, relative to the workspace.")],
        content: Annotated[str, Field(description="The whole new content of the file.")],
    ) -> str:
        """Create or overwrite a text file in the workspace (parent directories are created)."""
        real = self.resolve(path)
        data = content.encode()
        if len(data) > self.max_bytes:
            raise ToolError(f"content is {len(data)} bytes; the limit is {self.max_bytes}")
        await asyncio.to_thread(self._write, real, data)
        return f"wrote {len(data)} bytes to {self.shown(real)}"

    async def search_files(
        self,
        pattern: Annotated[str, Field(description="Regular expression to look for.")],
        path: Annotated[str, Field(description="Directory to search, relative.")] = ".",
    ) -> str:
        """Search the workspace's text files for lines matching a regular expression."""
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ToolError(f"bad pattern: {exc}") from None
        real = self.resolve(path)
        return await asyncio.to_thread(self._search, regex, real)

    def _read(self, real: Path) -> str:
        if not real.is_file():
            raise ToolError(f"{self.shown(real)} is not a file")
        size = real.stat().st_size
        if size > self.max_bytes:
            raise ToolError(f"{self.shown(real)} is {size} bytes; the limit is {self.max_bytes}")
        return real.read_bytes().decode(errors="replace")

    def _list(self, real: Path) -> str:
        if not real.is_dir():
            raise ToolError(f"{self.shown(real)} is not a directory")
        entries = sorted(real.iterdir())
        lines = [e.name + ("/" if e.is_dir() else "") for e in entries[:MAX_LISTED]]
        if len(entries) > MAX_LISTED:
            lines.append(f"... and {len(entries) - MAX_LISTED} more")
        return "\n".join(lines) or "(empty)"

    def _write(self, real: Path, data: bytes) -> None:
        if real.is_dir():
            raise ToolError(f"{self.shown(real)} is a directory")
        real.parent.mkdir(parents=True, exist_ok=True)
        real.write_bytes(data)

    def _search(self, regex: re.Pattern[str], real: Path) -> str:
        if not real.is_dir():
            raise ToolError(f"{self.shown(real)} is not a directory")
        matches: list[str] = []
        files = sorted(itertools.islice((p for p in real.rglob("*") if p.is_file()),
                                        MAX_SEARCHED_FILES))  # fmt: skip
        for file in files:
            if len(matches) >= self.max_matches:
                break
            resolved = Path(os.path.realpath(file))
            if self.root not in resolved.parents or resolved.stat().st_size > self.max_bytes:
                continue  # a symlink out of the workspace, or too large
            text = resolved.read_bytes().decode(errors="replace")
            for number, line in enumerate(text.splitlines(), 1):
                if regex.search(line):
                    matches.append(f"{self.shown(file)}:{number}: {line[:200]}")
                    if len(matches) >= self.max_matches:
                        break
        return "\n".join(matches) or "no matches"

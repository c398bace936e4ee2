"""`harombe chat`: talk to the cluster through the nearest peer.

Answers stream from the peer's Ollama-style `/api/chat`; a dim line after each answer says which
node and tier served it, and any fallback. Ctrl-C stops the current answer, not the session.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from rich.console import Console

from harombe.cli.client import PeerUnreachable

HELP = """\
/tier N|auto   prefer tier N (0 fast, 1 balanced, 2 most capable), or let harombe decide
/model M|auto  ask for model M (only nodes serving it answer), or any model
/peers         show the cluster
/clear         forget the conversation so far
/help          this list
/exit          leave (Ctrl-D too); Ctrl-C stops the current answer"""


@dataclass
class ChatSession:
    url: str
    tier: int | None = None
    model: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class AnswerInfo:
    node: str | None = None
    tier: int | None = None
    classified_tier: int | None = None
    fallbacks: list[dict[str, Any]] = field(default_factory=list)
    text: str = ""

    def describe(self) -> str:
        parts = [f"answered by {self.node or '?'}"]
        if self.tier is not None:
            parts.append(f"tier {self.tier}")
        if self.classified_tier is not None and self.classified_tier != self.tier:
            parts.append(f"classified tier {self.classified_tier}")
        for switch in self.fallbacks:
            when = "mid-answer" if switch.get("after_chars") else "before the first token"
            parts.append(
                f"fell back {switch.get('from_node')} → {switch.get('to_node')} {when}"
                f" ({switch.get('reason')})"
            )
        return " · ".join(parts)


async def stream_answer(session: ChatSession, question: str, out: Console) -> AnswerInfo:
    """Send `question` with the history; print the answer as it streams; return where it went."""
    messages = [*session.history, {"role": "user", "content": question}]
    body: dict[str, Any] = {"model": session.model or "auto", "messages": messages, "stream": True}
    headers = {"X-Harombe-Tier": str(session.tier)} if session.tier is not None else {}
    info = AnswerInfo()
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=5)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as http:
            async with http.post(f"{session.url}/api/chat", json=body, headers=headers) as resp:
                info.node = resp.headers.get("X-Harombe-Node")
                if resp.status != 200:
                    raise PeerUnreachable(await _error_text(resp))
                async for line in resp.content:
                    if not line.strip():
                        continue
                    chunk = json.loads(line)
                    if "error" in chunk:
                        raise PeerUnreachable(f"the answer broke off: {chunk['error']}")
                    text = (chunk.get("message") or {}).get("content", "")
                    info.text += text
                    out.print(text, end="", markup=False, highlight=False, soft_wrap=True)
                    meta = chunk.get("harombe")
                    if chunk.get("done") and isinstance(meta, dict):
                        info.node = meta.get("node") or info.node
                        info.tier = meta.get("tier")
                        info.classified_tier = meta.get("classified_tier")
                        info.fallbacks = meta.get("fallbacks") or []
    except aiohttp.ClientError as exc:
        raise PeerUnreachable(f"lost the peer at {session.url}: {exc}") from None
    out.print()
    session.history = [*messages, {"role": "assistant", "content": info.text}]
    return info


async def _error_text(resp: aiohttp.ClientResponse) -> str:
    try:
        data = await resp.json(content_type=None)
        message = data.get("error", data)
    except (json.JSONDecodeError, aiohttp.ContentTypeError, AttributeError):
        message = await resp.text()
    hint = ""
    if resp.status == 404:
        hint = "; list models with `harombe peers` or drop --model"
    elif resp.status == 503:
        hint = f"; retry in {resp.headers.get('Retry-After', 'a few')} s"
    return f"HTTP {resp.status}: {message}{hint}"


def handle_command(session: ChatSession, line: str, out: Console) -> bool:
    """Apply a slash command; return False when the session should end."""
    name, _, arg = line[1:].partition(" ")
    arg = arg.strip()
    if name in ("exit", "quit"):
        return False
    if name == "help":
        out.print(HELP, markup=False)
    elif name == "clear":
        session.history.clear()
        out.print("[dim]conversation cleared[/]")
    elif name == "tier":
        if arg in ("", "auto"):
            session.tier = None
        elif arg in ("0", "1", "2"):
            session.tier = int(arg)
        else:
            out.print("[red]/tier takes 0, 1, 2 or auto[/]")
            return True
        out.print(f"[dim]tier: {session.tier if session.tier is not None else 'auto'}[/]")
    elif name == "model":
        session.model = None if arg in ("", "auto") else arg
        out.print(f"[dim]model: {session.model or 'auto'}[/]")
    elif name == "peers":
        from harombe.cli.peers import show_peers

        try:
            asyncio.run(show_peers(session.url, as_json=False, watch=False, console=out))
        except PeerUnreachable as exc:
            out.print(f"[red]{exc}[/]")
    else:
        out.print(f"[red]unknown command /{name}[/] (try /help)")
    return True


def ask_once(session: ChatSession, question: str, out: Console, err: Console) -> int:
    """Answer one question; 0 on success, 1 on error, 130 when interrupted."""
    try:
        info = asyncio.run(stream_answer(session, question, out))
    except KeyboardInterrupt:
        err.print("\n[yellow]stopped[/]")
        return 130
    except PeerUnreachable as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        return 1
    err.print(f"[dim]{info.describe()}[/]", highlight=False)
    return 0


def interactive(session: ChatSession, out: Console, err: Console) -> None:
    out.print(f"[dim]harombe chat via {session.url} — /help for commands, /exit to leave[/]")
    while True:
        try:
            line = input("› ").strip()
        except EOFError:
            out.print()
            return
        except KeyboardInterrupt:
            out.print("\n[dim](/exit to leave)[/]")
            continue
        if not line:
            continue
        if line.startswith("/"):
            if not handle_command(session, line, out):
                return
            continue
        ask_once(session, line, out, err)


def read_stdin_question() -> str | None:
    if sys.stdin is None or sys.stdin.isatty():
        return None
    return sys.stdin.read().strip() or None

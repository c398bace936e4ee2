"""`harombe chat`: talk to the cluster through the nearest peer.

Answers stream from the peer's Ollama-style `/api/chat`; a dim line after each answer says which
node and tier served it, and any fallback. Ctrl-C stops the current answer, not the session.
With `--new`, `--resume ID` or `--tools` the questions go to the agent instead, in a
conversation the peer stores (`harombe.cli.agent_chat`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from rich.console import Console
from rich.markup import escape

from harombe.cli.client import PeerUnreachable, client_session, unreachable
from harombe.routing.route import VIRTUAL_MODELS

CONNECT_TIMEOUT_S = 5.0
"""Seconds to open the connection to the peer; the answer itself may take as long as it takes
(Ctrl-C stops it)."""

# Terminal control characters a model could emit (escape sequences, bells, C1 codes): an answer
# is text, never instructions to the terminal. Newlines and tabs stay.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

HELP = """\
/tier N|auto   prefer tier N (0 fast, 1 balanced, 2 most capable); auto: harombe picks
/model M|auto  ask for model M (only peers serving it answer); auto: any model
/peers         show the cluster as this peer sees it
/clear         forget the conversation so far
/help          this list
/exit          leave (Ctrl-D too); Ctrl-C stops the current answer"""


@dataclass
class ChatSession:
    url: str
    tier: int | None = None
    model: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    agent: bool = False  # through /agent/chat, in a stored conversation
    tools: bool = False  # let the agent use its tools
    conversation: str | None = None  # the stored conversation (agent mode)


@dataclass
class AnswerInfo:
    node: str | None = None
    tier: int | None = None
    classified_tier: int | None = None
    fallbacks: list[dict[str, Any]] = field(default_factory=list)
    text: str = ""

    def describe(self, asked_tier: int | None = None) -> str:
        parts = [f"answered by {self.node or '?'}"]
        if self.tier is not None:
            parts.append(f"tier {self.tier}")
        if asked_tier is not None and asked_tier != self.tier:
            parts.append(f"asked for tier {asked_tier}")
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
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S)
    try:
        async with client_session(timeout) as http:
            async with http.post(f"{session.url}/api/chat", json=body, headers=headers) as resp:
                info.node = resp.headers.get("X-Harombe-Node")
                if resp.status != 200:
                    raise PeerUnreachable(await error_text(resp))
                async for line in resp.content:
                    if line.strip():
                        _take_chunk(_parse_chunk(line), info, out)
    except aiohttp.ClientConnectorError as exc:
        raise PeerUnreachable(unreachable(session.url, exc)) from None
    except aiohttp.ClientError as exc:
        broke = "the answer broke off" if info.text else "the peer dropped the request"
        raise PeerUnreachable(f"{broke} ({session.url}: {exc or type(exc).__name__})") from None
    finally:
        if info.text:
            out.print()
    session.history = [*messages, {"role": "assistant", "content": info.text}]
    return info


def _parse_chunk(line: bytes) -> dict[str, Any]:
    try:
        chunk = json.loads(line)
    except ValueError:
        chunk = None
    if not isinstance(chunk, dict):
        raise PeerUnreachable(f"the peer sent a line that is not an answer chunk: {line[:80]!r}")
    if "error" in chunk:
        raise PeerUnreachable(f"the answer broke off: {chunk['error']}")
    return chunk


def clean(text: str) -> str:
    """`text` without terminal control characters."""
    return _CONTROL.sub("", text)


def _take_chunk(chunk: dict[str, Any], info: AnswerInfo, out: Console) -> None:
    message = chunk.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    text = clean(content if isinstance(content, str) else "")
    info.text += text
    out.print(text, end="", markup=False, highlight=False, soft_wrap=True)
    meta = chunk.get("harombe")
    if chunk.get("done") and isinstance(meta, dict):
        info.node = meta.get("node") or info.node
        info.tier = meta.get("tier")
        info.classified_tier = meta.get("classified_tier")
        info.fallbacks = [s for s in meta.get("fallbacks") or [] if isinstance(s, dict)]


async def error_text(resp: aiohttp.ClientResponse) -> str:
    try:
        data = await resp.json(content_type=None)
        message = data.get("error", data)
    except (json.JSONDecodeError, aiohttp.ContentTypeError, AttributeError):
        message = await resp.text()
    if resp.status == 404:
        return f"{message}; `harombe peers` lists the models served, or ask for model auto"
    if resp.status == 503:
        retry = resp.headers.get("Retry-After", "a few")
        return (
            f"no peer can answer now: {message}; retry in {retry} s "
            "(`harombe peers` shows which peers have a backend)"
        )
    return f"HTTP {resp.status}: {message}"


def handle_command(session: ChatSession, line: str, out: Console) -> bool:
    """Apply a slash command; return False when the session should end."""
    name, _, arg = line[1:].partition(" ")
    arg = arg.strip()
    if name in ("exit", "quit"):
        return False
    if name == "help":
        out.print(HELP, markup=False, highlight=False, soft_wrap=True)
    elif name == "clear":
        session.history.clear()
        session.conversation = None
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
        _set_model(session, arg, out)
    elif name == "peers":
        from harombe.cli.peers import show_peers

        try:
            asyncio.run(show_peers(session.url, as_json=False, watch=False, console=out))
        except PeerUnreachable as exc:
            out.print(f"[red]{escape(str(exc))}[/]")
    else:
        out.print(f"[red]unknown command /{escape(name)}[/] (try /help)")
    return True


def _set_model(session: ChatSession, model: str, out: Console) -> None:
    """Take `model` for the next questions, warning when no peer serves it now."""
    from harombe.cli.client import get_json

    session.model = None if model in ("", "auto") else model
    out.print(f"[dim]model: {escape(session.model or 'auto')}[/]")
    if session.model is None:
        return
    with contextlib.suppress(PeerUnreachable):
        tags = asyncio.run(get_json(session.url, "/api/tags"))
        names = {m.get("name") for m in tags.get("models", [])}
        served = sorted(n for n in names if n and n not in VIRTUAL_MODELS)
        if session.model not in served:
            out.print(
                f"[yellow]no peer serves {escape(session.model)} now; served: "
                f"{escape(', '.join(served) or 'none')}[/]"
            )


def ask_once(session: ChatSession, question: str, out: Console, err: Console) -> int:
    """Answer one question; 0 on success, 1 on error, 130 when interrupted."""
    try:
        if session.agent:
            from harombe.cli.agent_chat import agent_answer

            asyncio.run(agent_answer(session, question, out, err))
        else:
            info = asyncio.run(stream_answer(session, question, out))
    except KeyboardInterrupt:
        err.print("[yellow]stopped[/]")
        return 130
    except PeerUnreachable as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return 1
    if session.agent:
        err.print(f"[dim]conversation {escape(session.conversation or '?')}[/]", highlight=False)
        return 0
    err.print(f"[dim]{escape(info.describe(session.tier))}[/]", highlight=False, soft_wrap=True)
    return 0


def interactive(session: ChatSession, out: Console, err: Console) -> None:
    """The REPL: questions stream their answers; lines starting with / are commands."""
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (line editing and history for input())
    out.print(f"[dim]harombe chat via {escape(session.url)}: /help for commands, /exit to leave[/]")
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


def stdin_question() -> str | None:
    """The question piped on stdin; None when stdin is a terminal (interactive chat).

    Raises ValueError when stdin is piped but empty: there is nothing to ask.
    """
    if sys.stdin is None or sys.stdin.isatty():
        return None
    question = sys.stdin.read().strip()
    if not question:
        raise ValueError("nothing to ask: stdin is empty (pass a QUESTION, or run in a terminal)")
    return question

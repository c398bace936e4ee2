"""`harombe chat --new | --resume ID | --tools`: chat through the agent, in a stored conversation.

Each question goes to the peer's `POST /agent/chat`; its NDJSON events are shown as they come:
each step's node, tier and model and each tool call and result on stderr (dim), the answer on
stdout, and a `confirm` event becomes a y/N question (no terminal to ask: no).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import aiohttp
from rich.console import Console
from rich.markup import escape

from harombe.cli.chat import CONNECT_TIMEOUT_S, ChatSession, clean, error_text
from harombe.cli.client import PeerUnreachable, client_session, unreachable

RESULT_PREVIEW = 200  # characters of a tool result shown


async def agent_answer(session: ChatSession, question: str, out: Console, err: Console) -> str:
    """Ask `question` in the session's conversation; show the events; return the answer."""
    body: dict[str, Any] = {"message": question, "tools": None if session.tools else []}
    if session.conversation:
        body["conversation"] = session.conversation
    if session.tier is not None:
        body["prefer_tier"] = session.tier
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S)
    answer = ""
    try:
        async with client_session(timeout) as http:
            async with http.post(f"{session.url}/agent/chat", json=body) as resp:
                if resp.status != 200:
                    raise PeerUnreachable(await error_text(resp))
                async for line in resp.content:
                    if line.strip():
                        event = _parse(line)
                        answer += await _show(event, session, http, out, err)
    except aiohttp.ClientConnectorError as exc:
        raise PeerUnreachable(unreachable(session.url, exc)) from None
    except aiohttp.ClientError as exc:
        raise PeerUnreachable(f"the answer broke off ({session.url}: {exc})") from None
    return answer


def _parse(line: bytes) -> dict[str, Any]:
    try:
        event = json.loads(line)
    except ValueError:
        event = None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise PeerUnreachable(f"the peer sent a line that is not an agent event: {line[:80]!r}")
    return event


async def _show(
    event: dict[str, Any],
    session: ChatSession,
    http: aiohttp.ClientSession,
    out: Console,
    err: Console,
) -> str:
    """Print one event; returns the answer text it carries."""
    kind = event["type"]
    if kind == "step":
        parts = [f"step {event.get('step')}", str(event.get("node") or "?")]
        if event.get("tier") is not None:
            parts.append(f"tier {event['tier']}")
        if event.get("model"):
            parts.append(str(event["model"]))
        if event.get("escalated_from") is not None:
            parts.append(f"retried from tier {event['escalated_from']}: {event.get('reason')}")
        _note(err, " · ".join(parts))
    elif kind == "token":
        text = clean(str(event.get("content", "")))
        out.print(text, end="", markup=False, highlight=False, soft_wrap=True)
        return text
    elif kind == "tool_call":
        where = f" on {event['node']}" if event.get("node") else ""
        _note(err, f"→ {event.get('name')} {json.dumps(event.get('arguments'))}{where}")
    elif kind == "tool_result":
        output = clean(str(event.get("output", ""))).strip().replace("\n", " ⏎ ")
        status = "ok" if event.get("ok") else "failed"
        _note(err, f"← {status}: {output[:RESULT_PREVIEW]}")
    elif kind == "confirm":
        allow = await _ask(event, err)
        async with http.post(
            f"{session.url}/agent/confirm/{event['id']}", json={"allow": allow}
        ) as resp:
            if resp.status != 200:
                _note(err, f"the answer came too late: {await error_text(resp)}")
    elif kind == "answer":
        out.print()
        session.conversation = event.get("conversation") or session.conversation
    elif kind == "error":
        session.conversation = event.get("conversation") or session.conversation
        raise PeerUnreachable(str(event.get("message")))
    return ""


async def _ask(event: dict[str, Any], err: Console) -> bool:
    question = f"allow {event.get('name')} {json.dumps(event.get('arguments'))}? [y/N] "
    if sys.stdin is None or not sys.stdin.isatty():
        _note(err, f"{question}no (no terminal to ask)")
        return False
    err.print(escape(clean(question)), end="", highlight=False, soft_wrap=True)
    try:
        reply = await asyncio.to_thread(input)
    except EOFError:
        return False
    return reply.strip().lower() in ("y", "yes")


def _note(err: Console, text: str) -> None:
    err.print(f"[dim]{escape(clean(text))}[/]", highlight=False, soft_wrap=True)

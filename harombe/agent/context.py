"""Fitting a conversation into a model's context, by a rule a user can predict.

The budget is `agent.context_tokens`, estimated at four characters per token, lowered to
three quarters of the largest context window routing reports when a prompt fits no node's
window (`loop.WINDOW_SHARE`). When the messages exceed it: first the oldest tool outputs are
replaced, one by one, by a one-line note saying how much was dropped; if that is not enough,
the oldest whole turns (a user message and everything up to the next one) are dropped. The
system prompt and the current turn's user message are always kept, and no message is ever cut
in the middle.
"""

from __future__ import annotations

import json
from dataclasses import replace

from harombe.inference.types import Message

CHARS_PER_TOKEN = 4


def size(message: Message) -> int:
    calls = sum(len(c.name) + len(json.dumps(c.arguments)) for c in message.tool_calls)
    return len(message.content) + calls + 16


def trim(messages: list[Message], budget_tokens: int, keep_from: int) -> list[Message]:
    """`messages` within the budget; indices from `keep_from` (the current turn) are only
    ever shortened by replacing tool outputs, never dropped."""
    budget = budget_tokens * CHARS_PER_TOKEN
    out = list(messages)
    total = sum(size(m) for m in out)
    for i, message in enumerate(out):
        if total <= budget:
            return out
        if message.role == "tool":
            note = f"[tool output trimmed: {len(message.content)} characters]"
            if len(note) < len(message.content):
                total -= len(message.content) - len(note)
                out[i] = replace(message, content=note)
    start = 1 if out and out[0].role == "system" else 0
    kept_from = keep_from
    while total > budget and start < kept_from:
        end = next((j for j in range(start + 1, kept_from) if out[j].role == "user"), kept_from)
        total -= sum(size(m) for m in out[start:end])
        del out[start:end]
        kept_from -= end - start
    return out


def gathered(turn: list[Message]) -> str:
    """The tool calls and results of a turn as plain text, for the final answer step."""
    lines = []
    for message in turn:
        for call in message.tool_calls:
            lines.append(f"Called {call.name}({json.dumps(call.arguments)})")
        if message.role == "tool":
            lines.append(f"Result of {message.name or 'the tool'}:\n{message.content}")
    return "\n".join(lines)

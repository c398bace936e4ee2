"""The text formats, for models that cannot take the API's `tools`: ReAct and constrained JSON.

The model is told the tools and must reply with exactly one of

    Action: TOOL_NAME
    Action Input: {"json": "object"}

or

    Final Answer: TEXT

Anything else is malformed (the agent loop retries once, one tier up, with the error). Tool
results come back as a user message starting `Observation:`.

The JSON format asks for `{"tool": NAME, "arguments": {...}}` or `{"answer": TEXT}` and sends
the JSON schema of exactly those replies as the request's `format` (OpenAI `response_format`,
Ollama `format`), so a server that constrains its output (llama.cpp, Ollama, vLLM) cannot
produce anything else: even a very small model then makes well-formed calls.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from harombe.agent.tools import Tool
from harombe.inference.types import ToolCall

_ACTION = re.compile(r"Action:\s*(\S+)\s*\n\s*Action Input:\s*(\{.*\})\s*\Z", re.DOTALL)
_FINAL = re.compile(r"Final Answer:\s*(.*)\Z", re.DOTALL)


class FormatError(ValueError):
    """The reply follows neither form; the message says why, for the repair prompt."""


@dataclass
class Parsed:
    answer: str | None = None
    call: ToolCall | None = None


def instructions(tools: list[Tool]) -> str:
    lines = [
        "You can use tools. To call one, reply with exactly two lines and nothing else:",
        "Action: TOOL_NAME",
        'Action Input: {"argument": "value"}',
        "You will get the result in a message starting with 'Observation:'.",
        "When you can answer, reply with 'Final Answer: ' followed by the answer.",
        "Tools (name: description; arguments as JSON schema):",
    ]
    for tool in tools:
        lines.append(f"- {tool.name}: {tool.description} {json.dumps(tool.parameters)}")
    return "\n".join(lines)


def parse(text: str) -> Parsed:
    text = text.strip()
    if final := _FINAL.search(text):
        if "Action:" not in text[: final.start()]:
            return Parsed(answer=final.group(1).strip())
    action = _ACTION.search(text)
    if action is None:
        raise FormatError(
            "the reply is neither 'Action: NAME' + 'Action Input: {JSON}' nor 'Final Answer: ...'"
        )
    try:
        arguments = json.loads(action.group(2))
    except ValueError as exc:
        raise FormatError(f"Action Input is not JSON: {exc}") from None
    if not isinstance(arguments, dict):
        raise FormatError("Action Input must be a JSON object")
    return Parsed(call=ToolCall(name=action.group(1), arguments=arguments))


def observation(output: str) -> str:
    return f"Observation: {output}"


def json_instructions(tools: list[Tool]) -> str:
    lines = [
        'You can use tools. To call one, reply with {"tool": NAME, "arguments": {...}};',
        'when you can answer, reply with {"answer": TEXT}. Reply with JSON only.',
        "Tools (name: description; arguments as JSON schema):",
    ]
    for tool in tools:
        lines.append(f"- {tool.name}: {tool.description} {json.dumps(tool.parameters)}")
    return "\n".join(lines)


def json_schema(tools: list[Tool]) -> dict[str, Any]:
    """The schema of every reply allowed: one call of an offered tool, or an answer."""
    replies: list[dict[str, Any]] = [
        {
            "type": "object",
            "properties": {"tool": {"const": tool.name}, "arguments": tool.parameters},
            "required": ["tool", "arguments"],
            "additionalProperties": False,
        }
        for tool in tools
    ]
    replies.append(
        {
            "type": "object",
            "properties": {"answer": {"type": "string"}},
            "required": ["answer"],
            "additionalProperties": False,
        }
    )
    return {"anyOf": replies}


def parse_json(text: str) -> Parsed:
    try:
        reply = json.loads(text)
    except ValueError as exc:
        raise FormatError(f"the reply is not JSON: {exc}") from None
    if isinstance(reply, dict) and isinstance(reply.get("answer"), str):
        return Parsed(answer=reply["answer"])
    if (
        isinstance(reply, dict)
        and isinstance(reply.get("tool"), str)
        and isinstance(reply.get("arguments"), dict)
    ):
        return Parsed(call=ToolCall(name=reply["tool"], arguments=reply["arguments"]))
    raise FormatError('the reply is neither {"tool": ..., "arguments": {...}} nor {"answer": ...}')


def render_call(call: ToolCall, fmt: str) -> str:
    """A past tool call as the text format shows it."""
    if fmt == "json":
        return json.dumps({"tool": call.name, "arguments": call.arguments})
    return f"Action: {call.name}\nAction Input: {json.dumps(call.arguments)}"

"""The text ReAct format, for models that cannot take the API's `tools`.

The model is told the tools and must reply with exactly one of

    Action: TOOL_NAME
    Action Input: {"json": "object"}

or

    Final Answer: TEXT

Anything else is malformed (the agent loop retries once, one tier up, with the error). Tool
results come back as a user message starting `Observation:`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

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

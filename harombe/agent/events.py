"""What an agent turn streams to its client, one NDJSON object per event: `{"type": ..., ...}`.

`step` names the node, tier and model that served a model call (with `purpose`: "tools" for a
step that may call tools, "answer" for the final synthesis; `escalated_from` when a malformed
tool call was retried one tier up); `token` carries answer text; `tool_call`, `confirm` and
`tool_result` follow each tool call; `answer` ends a turn, `error` ends one that failed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar


@dataclass
class Event:
    type: ClassVar[str]

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, **asdict(self)}


@dataclass
class StepEvent(Event):
    type: ClassVar[str] = "step"
    step: int
    node: str | None
    tier: int | None
    model: str | None
    purpose: str = "tools"  # "tools" | "answer"
    format: str = "native"  # "native" | "react"
    escalated_from: int | None = None  # the tier whose malformed call this step retries
    reason: str | None = None  # why it was escalated


@dataclass
class TokenEvent(Event):
    type: ClassVar[str] = "token"
    content: str


@dataclass
class ToolCallEvent(Event):
    type: ClassVar[str] = "tool_call"
    id: str
    name: str
    arguments: dict[str, Any]
    node: str | None = None  # the peer that runs it, when not this one


@dataclass
class ConfirmEvent(Event):
    type: ClassVar[str] = "confirm"
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass
class ToolResultEvent(Event):
    type: ClassVar[str] = "tool_result"
    id: str
    ok: bool
    output: str


@dataclass
class AnswerEvent(Event):
    type: ClassVar[str] = "answer"
    content: str
    conversation: str
    stopped: str | None = None  # "repeated_call" when the answer came after a repeated call


@dataclass
class ErrorEvent(Event):
    type: ClassVar[str] = "error"
    message: str
    conversation: str | None = None

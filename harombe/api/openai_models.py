"""OpenAI API request body (`/v1/chat/completions`) and its conversion."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Json, Tag, model_validator

from harombe.api.errors import ApiError
from harombe.api.models import SamplingFields, ToolSpec, WireModel, tool_dicts
from harombe.inference.types import ChatRequest, Message, ToolCall

ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


class TextPart(WireModel):
    type: Literal["text"]
    text: str

    @model_validator(mode="before")
    @classmethod
    def _text_only(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("type") != "text":
            raise ValueError(f"only text parts are supported, not {data.get('type')!r}")
        return data


# A string or a list of parts; the discriminator keeps errors to the branch the client meant.
Content = Annotated[
    Annotated[str, Tag("text")] | Annotated[list[TextPart], Tag("parts")],
    Discriminator(lambda v: "parts" if isinstance(v, list) else "text"),
]


class OpenAIFunctionCall(WireModel):
    name: str
    arguments: Json[dict[str, Any]]  # a JSON object, sent as a string


class OpenAIToolCall(WireModel):
    id: str
    type: Literal["function"] = "function"
    function: OpenAIFunctionCall


class OpenAIMessage(WireModel):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Content | None = None
    name: str | None = None
    tool_calls: list[OpenAIToolCall] | None = None
    tool_call_id: str | None = None

    def to_internal(self) -> Message:
        content = self.content
        if isinstance(content, list):
            content = "".join(part.text for part in content)
        return Message(
            role=ROLES.get(self.role, self.role),
            content=content or "",
            tool_calls=[
                ToolCall(name=c.function.name, arguments=c.function.arguments, id=c.id)
                for c in self.tool_calls or []
            ],
            tool_call_id=self.tool_call_id,
            name=self.name,
        )


class NamedFunction(WireModel):
    name: str


class NamedToolChoice(WireModel):
    type: Literal["function"] = "function"
    function: NamedFunction


class StreamOptions(WireModel):
    include_usage: bool = False


class ChatCompletionRequest(SamplingFields):
    model: str = Field(min_length=1)
    messages: list[OpenAIMessage] = Field(min_length=1)
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    tools: list[ToolSpec] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    n: int | None = None

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage

    def to_internal(self) -> ChatRequest:
        if self.n not in (None, 1):
            raise ApiError(400, "only n=1 is supported", param="n")
        return ChatRequest(
            messages=[m.to_internal() for m in self.messages],
            model=self.model,
            tools=tool_dicts(self._offered_tools()),
            options=self.generation_options(
                max_tokens=self.max_completion_tokens or self.max_tokens
            ),
            stream=bool(self.stream),
        )

    def _offered_tools(self) -> list[ToolSpec] | None:
        """The tools the model may use: none for "none", only the named one for a named choice.

        "required" cannot be enforced by every backend; the tools are offered as for "auto".
        """
        choice = self.tool_choice
        if choice == "none":
            return None
        if isinstance(choice, NamedToolChoice):
            named = [t for t in self.tools or [] if t.function.name == choice.function.name]
            if not named:
                raise ApiError(
                    400,
                    f"tool_choice names {choice.function.name!r}, which is not in tools",
                    param="tool_choice",
                )
            return named
        return self.tools

"""OpenAI API request bodies (`/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Json, Tag, model_validator

from harombe.api.errors import ApiError
from harombe.api.models import SamplingFields, ToolSpec, WireModel, tool_dicts
from harombe.inference.types import ChatRequest, EmbedRequest, Message, ToolCall

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


class JsonSchemaFormat(WireModel):
    name: str = Field(min_length=1)
    json_schema: dict[str, Any] = Field(alias="schema")
    description: str | None = None
    strict: bool | None = None


class ResponseFormat(WireModel):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_given(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError('type "json_schema" needs a "json_schema" object')
        return self

    def to_internal(self) -> str | dict[str, Any] | None:
        """The internal `format`: None (free text), "json", or the JSON schema."""
        if self.type == "json_object":
            return "json"
        if self.type == "json_schema" and self.json_schema is not None:
            return self.json_schema.json_schema
        return None


class _Completions(SamplingFields):
    """Fields both completion endpoints share."""

    model: str = Field(min_length=1)
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    n: int | None = None

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage

    def _one_choice(self) -> None:
        if self.n not in (None, 1):
            raise ApiError(400, "only n=1 is supported", param="n")


class ChatCompletionRequest(_Completions):
    messages: list[OpenAIMessage] = Field(min_length=1)
    tools: list[ToolSpec] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    max_completion_tokens: int | None = Field(default=None, ge=1)
    response_format: ResponseFormat | None = None

    def to_internal(self) -> ChatRequest:
        self._one_choice()
        tools = self._offered_tools()
        return ChatRequest(
            messages=[m.to_internal() for m in self.messages],
            model=self.model,
            tools=tool_dicts(tools),
            options=self.generation_options(
                max_tokens=self.max_completion_tokens or self.max_tokens
            ),
            stream=bool(self.stream),
            format=self.response_format.to_internal() if self.response_format else None,
            tool_choice=self._backend_tool_choice() if tools else None,
        )

    def _backend_tool_choice(self) -> str | None:
        """A named choice offers only that tool (see `_offered_tools`) and requires a call."""
        if isinstance(self.tool_choice, NamedToolChoice):
            return "required"
        return self.tool_choice

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


DEFAULT_COMPLETION_TOKENS = 16  # OpenAI's default max_tokens for /v1/completions


class CompletionRequest(_Completions):
    """`/v1/completions`: one prompt, answered as the model's reply to it (chat template
    applied: harombe routes chat requests, and every backend it speaks to has chat)."""

    prompt: str | list[str]
    suffix: str | None = None
    echo: bool | None = None
    best_of: int | None = None
    max_tokens: int | None = Field(default=DEFAULT_COMPLETION_TOKENS, ge=1)

    def to_internal(self) -> ChatRequest:
        self._one_choice()
        prompts = [self.prompt] if isinstance(self.prompt, str) else self.prompt
        if len(prompts) != 1:
            raise ApiError(
                400, "give exactly one prompt (batches are not supported)", param="prompt"
            )
        for name, unsupported in (
            ("suffix", self.suffix),
            ("echo", self.echo),
            ("best_of", self.best_of not in (None, 1)),
        ):
            if unsupported:
                raise ApiError(400, f"{name} is not supported", param=name)
        return ChatRequest(
            messages=[Message("user", prompts[0])],
            model=self.model,
            options=self.generation_options(max_tokens=self.max_tokens),
            stream=bool(self.stream),
        )


EmbeddingInput = Annotated[
    str | list[str] | list[int] | list[list[int]],
    Field(union_mode="left_to_right"),
]


class EmbeddingRequest(WireModel):
    model: str = Field(min_length=1)
    input: EmbeddingInput
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)

    def to_internal(self) -> EmbedRequest:
        raw = self.input
        inputs: list[str] | list[list[int]]
        if isinstance(raw, str):
            inputs = [raw]
        elif raw and isinstance(raw[0], int):
            inputs = [raw]  # type: ignore[list-item]  # one token array
        else:
            inputs = raw  # type: ignore[assignment]
        if not inputs or any(len(i) == 0 for i in inputs):
            raise ApiError(400, "input must not be empty", param="input")
        return EmbedRequest(inputs=inputs, model=self.model, dimensions=self.dimensions)

"""Ollama API request bodies (`/api/chat`, `/api/generate`, `/api/show`) and their conversion."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from harombe.api.models import SamplingFields, ToolSpec, WireModel, tool_dicts
from harombe.inference.types import ChatRequest, EmbedRequest, Message, ToolCall
from harombe.routing.route import VIRTUAL_MODELS


class OllamaOptions(SamplingFields):
    num_predict: int | None = None  # -1: until done, -2: until the context is full


class OllamaFunctionCall(WireModel):
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class OllamaToolCall(WireModel):
    function: OllamaFunctionCall
    id: str | None = None


class OllamaMessage(WireModel):
    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    tool_calls: list[OllamaToolCall] | None = None
    tool_name: str | None = None  # for role "tool": which tool produced this result
    tool_call_id: str | None = None
    images: list[Any] | None = None

    @model_validator(mode="after")
    def _no_images(self) -> OllamaMessage:
        if self.images:
            raise ValueError("images are not supported: harombe passes text only")
        return self

    def to_internal(self) -> Message:
        return Message(
            role=self.role,
            content=self.content or "",
            tool_calls=[
                ToolCall(name=c.function.name, arguments=c.function.arguments, id=c.id)
                for c in self.tool_calls or []
            ],
            tool_call_id=self.tool_call_id,
            name=self.tool_name,
        )


class _OllamaRequest(WireModel):
    model: str = Field(min_length=1)
    stream: bool | None = None  # Ollama streams unless told otherwise
    options: OllamaOptions | None = None
    format: Literal["", "json"] | dict[str, Any] | None = None  # "json" or a JSON schema

    def _to_internal(
        self,
        messages: list[Message],
        tools: list[ToolSpec] | None = None,
        tool_choice: str | None = None,
    ) -> ChatRequest:
        options = self.options or OllamaOptions()
        max_tokens = options.num_predict if (options.num_predict or 0) > 0 else None
        return ChatRequest(
            messages=messages,
            model=_virtual_alias(self.model),
            tools=tool_dicts(tools),
            options=options.generation_options(max_tokens=max_tokens),
            stream=self.stream is not False,
            format=self.format or None,
            tool_choice=tool_choice,
        )


class OllamaChatRequest(_OllamaRequest):
    messages: list[OllamaMessage]
    tools: list[ToolSpec] | None = None
    # Not Ollama's: harombe's peers pass an OpenAI client's tool_choice along with it.
    tool_choice: Literal["none", "auto", "required"] | None = None

    def to_internal(self) -> ChatRequest:
        messages = [m.to_internal() for m in self.messages]
        return self._to_internal(messages, self.tools, self.tool_choice)


class OllamaGenerateRequest(_OllamaRequest):
    prompt: str = ""
    system: str | None = None

    def to_internal(self) -> ChatRequest:
        messages = [Message("system", self.system)] if self.system else []
        return self._to_internal([*messages, Message("user", self.prompt)])


class OllamaEmbedRequest(WireModel):
    """`/api/embed`; token-id arrays are harombe's extension, so peers forward OpenAI's."""

    model: str = Field(min_length=1)
    input: str | list[str] | list[list[int]] = Field(default_factory=list)
    truncate: bool = True
    dimensions: int | None = Field(default=None, ge=1)

    def to_internal(self) -> EmbedRequest:
        inputs = [self.input] if isinstance(self.input, str) else self.input
        return EmbedRequest(
            inputs=inputs,
            model=_virtual_alias(self.model),
            truncate=self.truncate,
            dimensions=self.dimensions,
        )


class OllamaEmbeddingsRequest(WireModel):
    """`/api/embeddings`, the older one-text form."""

    model: str = Field(min_length=1)
    prompt: str = ""

    def to_internal(self) -> EmbedRequest:
        return EmbedRequest(inputs=[self.prompt], model=_virtual_alias(self.model))


class OllamaShowRequest(WireModel):
    model: str | None = Field(default=None, min_length=1)
    name: str | None = Field(default=None, min_length=1)  # the older spelling

    @model_validator(mode="after")
    def _named(self) -> OllamaShowRequest:
        if not (self.model or self.name):
            raise ValueError('give the model as "model" (or "name")')
        return self

    @property
    def model_name(self) -> str:
        return self.model or self.name or ""


def _virtual_alias(model: str) -> str:
    """Ollama clients tag bare names ("auto" → "auto:latest"); map those back."""
    base, _, tag = model.partition(":")
    return base if tag == "latest" and base in VIRTUAL_MODELS else model

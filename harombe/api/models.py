"""Pieces of the request models that the Ollama and OpenAI APIs share.

Requests are validated strictly (a string where a number belongs is an error, not a guess) but
unknown fields are allowed: clients send many options harombe has no use for.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harombe.api.errors import ApiError
from harombe.inference.types import GenerationOptions

W = TypeVar("W", bound="WireModel")


class WireModel(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class SamplingFields(WireModel):
    """Sampling options both APIs spell the same way (Ollama inside `options`; `top_k` is an
    extension of OpenAI's API that llama.cpp, vLLM and others accept)."""

    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=1)
    seed: int | None = None
    stop: str | list[str] | None = None

    def generation_options(self, *, max_tokens: int | None) -> GenerationOptions:
        stop = [self.stop] if isinstance(self.stop, str) else self.stop
        return GenerationOptions(
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            max_tokens=max_tokens,
            seed=self.seed,
            stop=stop or None,
        )


class FunctionSpec(WireModel):
    name: str = Field(min_length=1)
    description: str | None = None
    parameters: dict[str, Any] | None = None


class ToolSpec(WireModel):
    """A tool the model may call; passed to the backend as the client sent it."""

    type: Literal["function"] = "function"
    function: FunctionSpec


def tool_dicts(tools: list[ToolSpec] | None) -> list[dict[str, Any]] | None:
    return [t.model_dump(exclude_unset=True) | {"type": t.type} for t in tools] if tools else None


async def read_request(request: web.Request, model: type[W]) -> W:
    """The request body validated as `model`; ApiError 400 (or 413) naming what is wrong."""
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise ApiError(413, f"request body too large: {exc.text}", code="too_large") from None
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise ApiError.from_validation(exc) from None

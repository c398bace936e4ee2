"""Pieces of the request models that the Ollama and OpenAI APIs share.

Requests are validated strictly (a string where a number belongs is an error, not a guess) but
unknown fields are allowed: clients send many options harombe has no use for.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harombe.api.body import read_body
from harombe.api.errors import ApiError
from harombe.api.keys import LIMITS_KEY
from harombe.inference.types import GenerationOptions
from harombe.limits import LimitsConfig

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
    """The request body validated as `model`; ApiError 400, 408 or 413 naming what is wrong.

    The body is read within the limits (`read_body`); one of `limits.parse_in_thread_bytes` or
    more is parsed in a worker thread, so a multi-MB prompt leaves the event loop free.
    """
    limits = request.app.get(LIMITS_KEY) or LimitsConfig()
    body = await read_body(request)
    try:
        if len(body) >= limits.parse_in_thread_bytes:
            return await asyncio.to_thread(model.model_validate_json, body)
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise ApiError.from_validation(exc) from None

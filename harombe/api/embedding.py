"""Embeddings as both client APIs route them: checked the same way, sent through the
coordinator to a node serving the named model (no tier: a virtual model name is refused)."""

from __future__ import annotations

from aiohttp import web

from harombe.api.answer import route_options
from harombe.api.errors import ApiError
from harombe.api.keys import COORDINATOR_KEY
from harombe.inference.types import BackendError, EmbedRequest
from harombe.routing.route import VIRTUAL_MODELS, Embedded

MAX_EMBED_INPUTS = 2048
"""Inputs in one request (OpenAI's own limit); the body size limit bounds their length."""


async def route_embedding(request: web.Request, wanted: EmbedRequest) -> Embedded:
    """`wanted` embedded by the cluster; ApiError (400, 404, 502, 503) when it cannot be."""
    model = wanted.model or ""
    if model.removesuffix(":latest") in VIRTUAL_MODELS:
        raise ApiError(
            400,
            f"{model!r} picks a chat tier; embeddings need a real model name (see /api/tags)",
            param="model",
            code="invalid_model",
        )
    if len(wanted.inputs) > MAX_EMBED_INPUTS:
        raise ApiError(400, f"at most {MAX_EMBED_INPUTS} inputs per request", param="input")
    if not wanted.inputs:  # Ollama's way to load a model: nothing to compute, no node asked
        return Embedded.empty(wanted.model)
    try:
        return await request.app[COORDINATOR_KEY].embed(wanted, route_options(request))
    except BackendError as exc:
        raise ApiError.from_backend(exc) from exc

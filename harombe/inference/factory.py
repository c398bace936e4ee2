"""Build this node's backend from its `backend` config section."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from harombe.config import BackendConfig, ConfigError
from harombe.inference.stats import MeasuredBackend
from harombe.inference.types import (
    Backend,
    BackendError,
    BackendHealth,
    ChatChunk,
    ChatRequest,
    EmbedRequest,
    EmbedResult,
    LoadedModel,
    ModelInfo,
)


class BackendConfigError(ConfigError, ValueError):
    """The backend section cannot work as written; the message says which field to fix."""


class NoBackend:
    """`backend.kind: none`: this node routes to its peers and serves nothing itself."""

    kind = "none"

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        raise BackendError("this node has no local backend (routes only)", status=503)
        yield ChatChunk()  # pragma: no cover - makes this an async generator

    async def embed(self, request: EmbedRequest) -> EmbedResult:
        raise BackendError("this node has no local backend (routes only)", status=503)

    async def list_models(self) -> list[ModelInfo]:
        return []

    async def loaded_models(self) -> list[LoadedModel]:
        return []

    async def health(self) -> BackendHealth:
        return BackendHealth(ok=False, detail="no local backend (routes only)")

    async def aclose(self) -> None:
        return None


async def open_backend(cfg: BackendConfig) -> MeasuredBackend:
    """The configured backend, started and wrapped in a `MeasuredBackend`.

    Raises BackendConfigError (a ConfigError) for a section that cannot work, and BackendError
    when an embedded llama.cpp fails to start.
    """
    return MeasuredBackend(await _open(cfg))


async def _open(cfg: BackendConfig) -> Backend:
    if cfg.kind == "none":
        return NoBackend()
    if cfg.kind == "ollama":
        from harombe.inference.ollama import OllamaBackend

        return OllamaBackend(_url(cfg), default_model=cfg.model, timeout=cfg.timeout)
    if cfg.kind == "openai":
        from harombe.inference.openai_compat import OpenAIBackend

        return OpenAIBackend(
            _url(cfg), api_key=cfg.api_key, default_model=cfg.model, timeout=cfg.timeout
        )
    return await _open_llamacpp(cfg)


def _url(cfg: BackendConfig) -> str:
    url = cfg.resolved_url()
    assert url is not None  # every HTTP kind has a default
    return url


async def _open_llamacpp(cfg: BackendConfig) -> Backend:
    from harombe.inference.llamacpp import EmbeddedLlamaCpp, LlamaCppUnavailable

    try:
        import xllamacpp  # noqa: F401
    except ImportError:
        raise BackendConfigError(str(LlamaCppUnavailable())) from None
    path, name = await asyncio.to_thread(_gguf_and_name, cfg)
    backend = EmbeddedLlamaCpp(
        path,
        model_name=name,
        n_ctx=cfg.n_ctx,
        threads=cfg.threads,
        n_parallel=cfg.parallel,
        timeout=cfg.timeout,
    )
    return await backend.start()


def _gguf_and_name(cfg: BackendConfig) -> tuple[Path, str]:
    """The GGUF to serve and the name to serve it under (blocking: file checks, generation)."""
    from harombe.inference.demo_model import DEMO_MODEL_NAME, ensure_demo_model

    if cfg.gguf is not None:
        path = cfg.gguf.expanduser()
        if not path.is_file():
            raise BackendConfigError(f"backend.gguf: {path} does not exist or is not a file")
        return path, cfg.model or path.stem
    if cfg.demo_model:
        # Always its own name: the toy's noise must never pass for the configured model's.
        return ensure_demo_model(), DEMO_MODEL_NAME
    raise BackendConfigError(
        "backend.gguf: the llamacpp backend needs a GGUF file "
        "(or backend.demo_model: true for the tiny demo model)"
    )

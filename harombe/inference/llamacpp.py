"""llama.cpp embedded in this process: xllamacpp's server on loopback, spoken to over HTTP.

xllamacpp runs llama.cpp's own HTTP server on threads of this process, so the embedded backend
is an `OpenAIBackend` pointed at it: one code path for llama.cpp, embedded or not. Creating
and destroying the server block (the model loads in the constructor; the destructor joins
llama.cpp's threads), so both run in a worker thread. Several servers can live in one
process, each on its own port.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from harombe.inference.openai_compat import DEFAULT_TIMEOUT, OpenAIBackend
from harombe.inference.types import (
    BackendError,
    BackendHealth,
    ChatChunk,
    ChatRequest,
    EmbedRequest,
    EmbedResult,
    LoadedModel,
    ModelInfo,
)

DEFAULT_STARTUP_TIMEOUT = 120.0
"""Seconds for llama.cpp to load the model and answer /health; large models on slow disks
need most of it, the demo model well under a second."""
HEALTH_POLL_INTERVAL = 0.05

Pooling = Literal["mean", "cls", "last"]
GENERATIVE_CAPABILITIES = ["completion", "tools"]  # tools: the GGUF's template, via jinja
EMBEDDING_CAPABILITIES = ["embedding"]


class LlamaCppUnavailable(ImportError):
    def __init__(self) -> None:
        super().__init__(
            "the llamacpp backend needs xllamacpp, which is not installed: "
            "pip install 'harombe[llamacpp]'"
        )


def start_server(
    gguf_path: Path,
    *,
    model_name: str,
    n_ctx: int,
    threads: int,
    host: str = "127.0.0.1",
    port: int = 0,
    n_parallel: int = 1,
    pooling: Pooling | None = None,
    verbose: bool = False,
    api_keys: Sequence[str] = (),
) -> Any:
    """Load `gguf_path` and serve it; returns the running `xllamacpp.Server`. Blocking.

    `port=0` lets llama.cpp pick a free port (see `server.listening_address`). `api_keys`:
    bearer tokens llama.cpp requires on its inference endpoints (none: open). `/v1/embeddings`
    is served too, pooling token vectors as `pooling` says, else as the GGUF says, else (a
    generative model's GGUF names no pooling, and llama.cpp cannot serve "none" as one vector
    per input) by their mean.
    """
    try:
        import xllamacpp
    except ImportError as exc:
        raise LlamaCppUnavailable() from exc
    if not Path(gguf_path).is_file():
        raise FileNotFoundError(f"GGUF model {gguf_path} does not exist")
    params = xllamacpp.CommonParams()
    params.model.path = str(gguf_path)
    params.model_alias = {model_name}
    params.n_ctx = n_ctx
    params.n_parallel = n_parallel
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.hostnames = [host]
    params.port = port
    params.use_jinja = True  # the GGUF's own chat template, tool calls included
    params.api_keys = list(api_keys)
    params.verbosity = 3 if verbose else 1  # 1: errors only
    params.endpoint_metrics = True  # for the start-up handshake below (loopback only)
    params.embedding = True
    if pooling is None and not read_gguf_facts(gguf_path).declares_pooling:
        pooling = "mean"
    if pooling is not None:
        params.pooling_type = getattr(
            xllamacpp.llama_pooling_type, f"LLAMA_POOLING_TYPE_{pooling.upper()}"
        )
    try:
        server = xllamacpp.Server(params)
    except RuntimeError as exc:
        raise BackendError(
            f"llama.cpp could not serve {gguf_path}: {exc}", status=503, retryable=False
        ) from exc
    # The constructor returns before llama.cpp's task loop runs, and a server destroyed before
    # then never stops (its terminate signal is lost). A metrics request is answered by that
    # loop, so once it returns the server can be stopped at any time.
    server.handle_metrics()
    return server


@dataclass(frozen=True)
class GgufFacts:
    architecture: str | None  # "llama", "qwen2", "bert"
    declares_pooling: bool  # embedding models name how to pool token vectors


def read_gguf_facts(gguf_path: Path) -> GgufFacts:
    """What the GGUF header says that llama.cpp's server does not report. Blocking.
    A file that cannot be read says nothing: llama.cpp then reports what is wrong with it."""
    from gguf import GGUFReader

    try:
        fields = GGUFReader(str(gguf_path)).fields
    except (ValueError, OSError):
        return GgufFacts(architecture=None, declares_pooling=False)
    arch = fields.get("general.architecture")
    pooling = [f for name, f in fields.items() if name.endswith(".pooling_type")]
    return GgufFacts(
        architecture=str(arch.contents()) if arch is not None else None,
        declares_pooling=any(f.contents() not in (None, 0) for f in pooling),  # 0: none
    )


def stop_server(holder: list[Any]) -> None:
    """Drop the last reference to a server, here, so its blocking destructor runs in this thread."""
    holder.clear()


class EmbeddedLlamaCpp:
    """A Backend that runs llama.cpp itself; start with `await start()` or `async with`."""

    kind = "llamacpp"

    def __init__(
        self,
        gguf_path: Path | str,
        *,
        model_name: str,
        n_ctx: int = 2048,
        threads: int = 2,
        host: str = "127.0.0.1",
        port: int = 0,
        n_parallel: int = 1,
        pooling: Pooling | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
        verbose: bool = False,
    ) -> None:
        self.gguf_path = Path(gguf_path)
        self.model_name = model_name
        self._server_args = dict(
            model_name=model_name,
            n_ctx=n_ctx,
            threads=threads,
            host=host,
            port=port,
            n_parallel=n_parallel,
            pooling=pooling,
            verbose=verbose,
        )
        self._timeout = timeout
        self._startup_timeout = startup_timeout
        self._server: list[Any] = []
        self._client: OpenAIBackend | None = None
        self._facts = GgufFacts(architecture=None, declares_pooling=False)

    @property
    def base_url(self) -> str:
        return self._http().base_url

    async def start(self) -> EmbeddedLlamaCpp:
        if self._client is not None:
            return self
        self._facts = await asyncio.to_thread(read_gguf_facts, self.gguf_path)
        server = await asyncio.to_thread(start_server, self.gguf_path, **self._server_args)
        self._server.append(server)
        client = OpenAIBackend(
            server.listening_address, default_model=self.model_name, timeout=self._timeout
        )
        del server
        self._client = client
        try:
            await self._wait_healthy(client)
        except BaseException:
            await self.aclose()
            raise
        return self

    async def _wait_healthy(self, client: OpenAIBackend) -> None:
        deadline = time.monotonic() + self._startup_timeout
        while True:
            health = await client.health()
            if health.ok:
                return
            if time.monotonic() >= deadline:
                raise BackendError(
                    f"llama.cpp at {client.base_url} not healthy after "
                    f"{self._startup_timeout:g} s: {health.detail}",
                    status=503,
                )
            await asyncio.sleep(HEALTH_POLL_INTERVAL)

    async def __aenter__(self) -> EmbeddedLlamaCpp:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _http(self) -> OpenAIBackend:
        if self._client is None:
            raise BackendError(
                f"embedded llama.cpp for {self.model_name!r} is not running", status=503
            )
        return self._client

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        async with aclosing(self._http().chat(request)) as stream:
            async for chunk in stream:
                yield chunk

    async def embed(self, request: EmbedRequest) -> EmbedResult:
        return await self._http().embed(request)

    async def list_models(self) -> list[ModelInfo]:
        """The served model, with its architecture and capabilities as Ollama would name them:
        an embedding model (its GGUF names a pooling) embeds; any other model completes and
        takes tools. Clients such as `ollama run` treat a model listing "embedding" as an
        embedding model, so a chat model does not list it, though it embeds too (by mean)."""
        models = await self._http().list_models()
        facts = self._facts
        for info in models:
            info.family = info.family or facts.architecture
            info.capabilities = list(
                EMBEDDING_CAPABILITIES if facts.declares_pooling else GENERATIVE_CAPABILITIES
            )
        return models

    async def loaded_models(self) -> list[LoadedModel]:
        return await self._http().loaded_models()

    async def health(self) -> BackendHealth:
        if self._client is None:
            return BackendHealth(ok=False, detail="embedded llama.cpp is not running")
        return await self._client.health()

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
        if self._server:
            holder, self._server = self._server, []
            await asyncio.to_thread(stop_server, holder)

"""This machine's sections: its name, tier and capacity (`node`), its HTTP listener
(`server`), and its local inference server (`backend`)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Literal

from pydantic import Field

from harombe.config.common import DEFAULT_PORT, Section


class NodeConfig(Section):
    name: str = Field(
        default_factory=lambda: socket.gethostname().split(".")[0] or "harombe",
        description="This peer's name in the cluster; must be unique. Default: the host name.",
    )
    tier: int = Field(
        default=0,
        ge=0,
        le=2,
        description="The tier this machine serves: 0 fast/small, 1 balanced, 2 most capable.",
    )
    capacity: int = Field(
        default=2,
        ge=1,
        description="Requests this machine serves at once before others are preferred "
        "(match the backend's parallel slots, e.g. OLLAMA_NUM_PARALLEL).",
    )


class ServerConfig(Section):
    host: str = Field(default="0.0.0.0", description="Address the HTTP API listens on.")
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535, description="HTTP API port (0: any).")
    advertise_host: str | None = Field(
        default=None,
        description="Address other peers use to reach this one. Default: `host`, or this "
        "machine's primary address when `host` is 0.0.0.0.",
    )
    max_body_bytes: int | None = Field(
        default=None,
        gt=0,
        description="Deprecated: use `limits.max_body_bytes` (still honoured when that is "
        "not set).",
    )


class BackendConfig(Section):
    kind: Literal["ollama", "openai", "llamacpp", "none"] = Field(
        default="ollama",
        description="Local inference server: ollama, openai (any OpenAI-compatible server), "
        "llamacpp (embedded, serves `gguf`), or none (routes only).",
    )
    url: str | None = Field(
        default=None,
        description="Backend base URL. Default: http://127.0.0.1:11434 for ollama, "
        "http://127.0.0.1:8080 for openai.",
    )
    model: str | None = Field(
        default=None, description="Model served by default when a request names none."
    )
    gguf: Path | None = Field(default=None, description="GGUF file for the llamacpp backend.")
    demo_model: bool = Field(
        default=False,
        description="Serve the generated tiny demo model with the llamacpp backend "
        "(its answers are noise; it exercises the whole path).",
    )
    api_key: str | None = Field(default=None, description="Bearer token for an openai backend.")
    timeout: float = Field(
        default=300.0,
        gt=0,
        description="Seconds a backend call may go without progress (connecting, or between "
        "two pieces of an answer) before it is abandoned; a long answer that keeps streaming "
        "is never cut off.",
    )
    n_ctx: int = Field(default=2048, gt=0, description="Context size for the llamacpp backend.")
    threads: int = Field(default=2, gt=0, description="CPU threads for the llamacpp backend.")
    parallel: int = Field(
        default=1,
        ge=1,
        description="Requests the llamacpp backend decodes at once (llama.cpp slots; the "
        "context is shared between them). Set node.capacity to match.",
    )

    def resolved_url(self) -> str | None:
        if self.url:
            return self.url.rstrip("/")
        return {"ollama": "http://127.0.0.1:11434", "openai": "http://127.0.0.1:8080"}.get(
            self.kind
        )

"""The `agent:` configuration section: tools, their safety limits, conversations."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class McpServerConfig(_Section):
    """One MCP tool server, started as a subprocess speaking MCP over stdio."""

    command: str = Field(description="Executable that starts the server.")
    args: list[str] = Field(default_factory=list, description="Its arguments.")
    env: dict[str, str] = Field(
        default_factory=dict, description="Extra environment variables for it."
    )


class AgentConfig(_Section):
    """The agent (`POST /agent/chat`, `harombe chat --tools`): its tools, limits and storage.
    The safety rules are described in docs/agent.md."""

    enabled: bool = Field(
        default=True, description="Serve the agent API (`/agent/*`, `/conversations`)."
    )
    data_dir: Path | None = Field(
        default=None,
        description="Where conversations are stored (SQLite, one file per peer name). "
        "Default: $HAROMBE_HOME (~/.harombe).",
    )
    workspace: Path | None = Field(
        default=None,
        description="The only directory the file tools and `shell` may touch. "
        "Default: $HAROMBE_HOME/workspace (created on start).",
    )
    max_steps: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Model calls one agent turn may make at most (a request's `max_steps` "
        "may only lower it).",
    )
    tool_tier: int | None = Field(
        default=None,
        ge=0,
        le=2,
        description="Tier for the steps that choose tools. Default: the tier the classifier "
        "gives each step. The final answer goes to the tier of the whole task.",
    )
    tool_format: Literal["auto", "native", "react", "json"] = Field(
        default="auto",
        description="How tools are offered: native (the API's `tools`), react (a strict text "
        "format), json (replies constrained by a JSON schema sent as the request's format: "
        "for small models on servers that constrain output), or auto (native, and react for "
        "a model whose server refuses `tools`).",
    )
    seed: int | None = Field(
        default=None,
        description="Sampling seed for every model call of a turn (reproducible runs on "
        "servers that honour it). Default: the server's own.",
    )
    shell: Literal["off", "confirm", "allow"] = Field(
        default="confirm",
        description="The `shell` tool: off (absent), confirm (the client must allow each "
        "command; no answer within `confirm_timeout` is a no), allow (runs without asking).",
    )
    confirm_timeout: float = Field(
        default=60.0, gt=0, description="Seconds a confirmation waits for the client's answer."
    )
    shell_timeout: float = Field(
        default=30.0, gt=0, description="Seconds a shell command may run before it is killed."
    )
    max_tool_output: int = Field(
        default=16_000,
        ge=256,
        description="Characters of one tool's output given to the model; the rest is cut, "
        "with a marker saying how much.",
    )
    max_file_bytes: int = Field(
        default=1_000_000,
        ge=1,
        description="Largest file read_file reads, write_file writes or search_files scans.",
    )
    max_search_matches: int = Field(
        default=200, ge=1, description="Matching lines search_files returns at most."
    )
    fetch_private: bool = Field(
        default=False,
        description="Let web_fetch reach private, loopback and link-local addresses (checked "
        "on the resolved address, and again after each redirect).",
    )
    fetch_timeout: float = Field(
        default=15.0, gt=0, description="Seconds web_fetch (and web_search) may take in all."
    )
    fetch_max_bytes: int = Field(
        default=2_000_000, ge=1, description="Largest response body web_fetch reads."
    )
    fetch_max_redirects: int = Field(
        default=5, ge=0, description="Redirects web_fetch follows (each one re-checked)."
    )
    search_url: str | None = Field(
        default=None,
        description="Base URL of a SearXNG instance (JSON format enabled) for web_search; "
        "unset: no web_search tool.",
    )
    search_results: int = Field(
        default=5, ge=1, le=50, description="Results web_search returns at most."
    )
    mcp_servers: dict[str, McpServerConfig] = Field(
        default_factory=dict,
        description="MCP tool servers by name, each `{command, args, env}` (stdio); their "
        "tools join as `NAME_TOOL`.",
    )
    shared_tools: list[str] = Field(
        default_factory=list,
        description="Tools of this peer that other peers may run here (gossiped; e.g. an MCP "
        "server's tools for a resource only this machine has). `shell` is never shared.",
    )
    context_tokens: int = Field(
        default=8192,
        ge=512,
        description="Context budget of a turn (tokens, estimated as characters / 4); lowered "
        "to 3/4 of the largest window when routing finds a prompt larger than every node's "
        "context window. Beyond it the oldest tool outputs are replaced by a note, then the "
        "oldest turns dropped.",
    )
    max_conversations: int = Field(
        default=10_000,
        ge=1,
        description="Conversations this peer stores at most; a new one beyond it is refused "
        "(HTTP 507) until some are deleted.",
    )
    max_active_turns: int = Field(
        default=16,
        ge=1,
        description="Agent turns this peer runs at once; more are refused with HTTP 503.",
    )
    max_message_chars: int = Field(
        default=100_000, ge=1, description="Longest user message `/agent/chat` accepts."
    )

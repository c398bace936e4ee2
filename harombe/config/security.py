"""The `security` section: the cluster key (and the keys it replaces), client API keys, and
the window a signed forwarded request stays valid; how a key is checked and read from a file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator

from harombe.config.common import Section


class SecurityConfig(Section):
    cluster_key: str | None = Field(
        default=None,
        description="Shared secret (base64 or text, at least 16 characters) authenticating "
        "cluster frames and forwarded requests with HMAC-SHA256. Peers without it are never "
        "admitted. Unset: the cluster is unauthenticated (a warning at start).",
    )
    cluster_key_file: Path | None = Field(
        default=None,
        description="File holding the cluster key (surrounding whitespace ignored); keeps the "
        "key out of the command line and the config. Used when `cluster_key` is unset.",
    )
    api_keys: list[str] = Field(
        default_factory=list,
        description="Client API keys (each at least 16 characters). When set, every endpoint "
        "but /health and the peer paths requires `Authorization: Bearer <key>`. Env: "
        "HAROMBE_API_KEYS (comma-separated). Needs a cluster key.",
    )
    previous_keys: list[str] = Field(
        default_factory=list,
        description="Older keys still accepted while a new `cluster_key` rolls out.",
    )
    request_window: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a signed forwarded request stays valid; older ones, and any "
        "signature seen before within the window, are refused (replays). Peers' clocks must "
        "agree to within this.",
    )
    request_nonces_per_sender: int = Field(
        default=10_000,
        ge=16,
        description="Forwarded-request nonces remembered per sending peer to refuse replays: "
        "a sender would need more requests to this peer within `request_window` before an old "
        "one could be replayed. About 100 bytes each.",
    )
    request_max_senders: int = Field(
        default=1_024,
        ge=16,
        description="Sending peers whose nonces are remembered at once (least recently heard "
        "forgotten first). Only peers with valid signatures, that is cluster members, take a "
        "place.",
    )

    @field_validator("cluster_key")
    @classmethod
    def _check_cluster_key(cls, key: str | None) -> str | None:
        return None if key is None else check_secret(key)

    @field_validator("previous_keys", "api_keys")
    @classmethod
    def _check_keys(cls, keys: list[str]) -> list[str]:
        return [check_secret(key) for key in keys]

    @model_validator(mode="after")
    def _resolve_key_file(self) -> SecurityConfig:
        if self.cluster_key is None and self.cluster_key_file is not None:
            try:
                self.cluster_key = check_secret(read_secret_file(self.cluster_key_file))
            except ValueError as exc:
                raise ValueError(f"cluster_key_file: {exc}") from None
        if self.api_keys and self.cluster_key is None:
            raise ValueError(
                "api_keys need a cluster_key: without one, any client could pass as a peer"
            )
        return self

    def keyring(self) -> list[bytes]:
        keys = [self.cluster_key, *self.previous_keys] if self.cluster_key else []
        return [k.encode() for k in keys if k]


MIN_SECRET_CHARS = 16
"""Shortest cluster or API key accepted: 16 random characters are beyond guessing online."""

MAX_SECRET_FILE_BYTES = 4096


def check_secret(key: str) -> str:
    """`key` stripped of surrounding whitespace; ValueError if shorter than MIN_SECRET_CHARS."""
    key = key.strip()
    if len(key) < MIN_SECRET_CHARS:
        raise ValueError(
            f"a key of at least {MIN_SECRET_CHARS} characters (got {len(key)}); "
            "`harombe cluster init` writes a random one"
        )
    return key


def read_secret_file(path: Path) -> str:
    try:
        with path.expanduser().open("rb") as f:
            raw = f.read(MAX_SECRET_FILE_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_SECRET_FILE_BYTES:
        raise ValueError(f"{path} is over {MAX_SECRET_FILE_BYTES} bytes; is it a key file?")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text") from None

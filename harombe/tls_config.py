"""`tls:`: certificates for HTTPS to clients and mutual TLS between peers (docs/security.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


class TlsConfig(BaseModel):
    """TLS for clients and peers. With `cert` and `key`, the API, the peer websocket and
    forwarded requests are served over HTTPS/WSS. With `ca` too, peers dial each other over TLS,
    verify the other side against it, and a peer must present a certificate signed by it on the
    peer paths (mutual TLS); clients are not asked for certificates."""

    model_config = ConfigDict(extra="forbid")

    cert: Path | None = Field(default=None, description="PEM certificate (chain) of this peer.")
    key: Path | None = Field(default=None, description="PEM private key of `cert`.")
    ca: Path | None = Field(
        default=None,
        description="PEM CA certificate(s) peers are verified against; needs `cert` and `key`.",
    )

    @model_validator(mode="after")
    def _check_pairs(self) -> TlsConfig:
        if (self.cert is None) != (self.key is None):
            raise ValueError("cert and key go together: set both or neither")
        if self.ca is not None and self.cert is None:
            raise ValueError("ca needs cert and key: peers verify each other both ways")
        for path in (self.cert, self.key, self.ca):
            if path is not None and not path.expanduser().is_file():
                raise ValueError(f"{path}: no such file")
        return self

    @property
    def enabled(self) -> bool:
        return self.cert is not None

    @property
    def scheme(self) -> str:
        return "https" if self.enabled else "http"

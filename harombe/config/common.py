"""What the configuration sections share: the strict base model, the default port, and
parsing of HOST:PORT addresses."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

DEFAULT_PORT = 8765


class Section(BaseModel):
    """A configuration section: unknown keys are refused (a misspelt field is an error)."""

    model_config = ConfigDict(extra="forbid")


def parse_address(text: str, default_port: int = DEFAULT_PORT) -> str:
    """Normalise "host", "host:port" or "[v6]:port" to "host:port"; ValueError if malformed."""
    text = text.strip()
    if text.startswith("http://") or text.startswith("https://"):
        text = text.split("://", 1)[1].rstrip("/")
    host, port = text, default_port
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            port = _port(rest.lstrip(":"), text)
        host = f"[{host}]"
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        port = _port(port_text, text)
    if not host or " " in host:
        raise ValueError(f"{text!r} is not HOST or HOST:PORT")
    return f"{host}:{port}"


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{whole!r} has no valid port (expected HOST:PORT, port 1-65535)")
    return int(text)

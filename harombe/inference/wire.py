"""Reading the JSON objects a streaming HTTP backend sends (an SSE event, an NDJSON line)."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from harombe.inference.types import BackendError

_json = msgspec.json.Decoder()


def error_message(payload: Any) -> str:
    """The human part of an error body: `{"error": {"message": ...}}`, `{"error": "..."}`."""
    error = payload.get("error", payload) if isinstance(payload, dict) else payload
    if isinstance(error, dict):
        error = error.get("message", error)
    return str(error)[:300]


def error_text(text: str) -> str:
    """`error_message` of a body that may not be JSON at all."""
    try:
        return error_message(json.loads(text))
    except ValueError:
        return text.strip()[:300] or "(empty body)"


def parse_object(data: str | bytes, where: str) -> dict[str, Any]:
    """One streamed JSON object; BackendError when it is not one or reports an error in-band.
    Decoded by msgspec: one per streamed token, so its speed shows in a peer's CPU per answer."""
    try:
        payload = _json.decode(data)
    except msgspec.DecodeError as exc:
        raise BackendError(f"{where}: malformed stream, not JSON: {data[:120]!r}") from exc
    if not isinstance(payload, dict):
        raise BackendError(f"{where}: malformed stream, expected a JSON object: {data[:120]!r}")
    if "error" in payload:
        raise BackendError(f"{where}: reported an error: {error_message(payload)}")
    return payload

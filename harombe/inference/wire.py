"""Reading the JSON objects a streaming HTTP backend sends (an SSE event, an NDJSON line)."""

from __future__ import annotations

import json
from typing import Any

from harombe.inference.types import BackendError


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
    """One streamed JSON object; BackendError when it is not one or reports an error in-band."""
    try:
        payload = json.loads(data)
    except ValueError as exc:
        raise BackendError(f"{where}: malformed stream, not JSON: {data[:120]!r}") from exc
    if not isinstance(payload, dict):
        raise BackendError(f"{where}: malformed stream, expected a JSON object: {data[:120]!r}")
    if "error" in payload:
        raise BackendError(f"{where}: reported an error: {error_message(payload)}")
    return payload

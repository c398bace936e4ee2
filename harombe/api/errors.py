"""One error type for both client APIs; each API renders it in its own wire format."""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Awaitable, Callable

from aiohttp import web
from pydantic import ValidationError

from harombe.inference.types import BackendError, RequestRejected

log = logging.getLogger(__name__)

MAX_REPORTED_PROBLEMS = 3  # validation problems named in one error message

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """A request that cannot be answered: HTTP status, message, and the offending field."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.retry_after = retry_after

    @classmethod
    def from_backend(cls, exc: BackendError) -> ApiError:
        if isinstance(exc, RequestRejected):  # the client's error: 400, whatever the backend said
            return cls(400, str(exc), code="invalid_request")
        status = exc.status if exc.status in (400, 404, 503) else 502
        code = getattr(exc, "code", None) or {404: "model_not_found", 503: "unavailable"}.get(
            status, "backend_error"
        )
        return cls(status, str(exc), code=code, retry_after=getattr(exc, "retry_after", None))

    @classmethod
    def from_validation(cls, exc: ValidationError) -> ApiError:
        problems = exc.errors(include_url=False, include_input=False)
        if problems and problems[0]["type"] == "json_invalid" and not problems[0]["loc"]:
            return cls(400, f"malformed JSON body: {problems[0]['msg']}", code="invalid_json")
        parts = [
            f"{_location(p['loc'])}: {p['msg'].removeprefix('Value error, ')}"
            for p in problems[:MAX_REPORTED_PROBLEMS]
        ]
        if len(problems) > MAX_REPORTED_PROBLEMS:
            parts.append(f"and {len(problems) - MAX_REPORTED_PROBLEMS} more")
        param = _location(problems[0]["loc"]) if problems else None
        return cls(400, "invalid request: " + "; ".join(parts), param=param, code="invalid_request")

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(max(0, math.ceil(self.retry_after)))}


def _location(loc: tuple[int | str, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "body"


def too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        f"request body too large: the limit is {limit} bytes (limits.max_body_bytes)",
        code="too_large",
    )


def internal_error(exc: Exception) -> ApiError:
    """An unexpected failure: logged with its traceback, reported to the client as a 500."""
    log.error("request failed", exc_info=exc)
    return ApiError(500, f"internal error: {type(exc).__name__}: {exc}", code="internal_error")


def guarded(render: Callable[[ApiError], web.Response]) -> Callable[[Handler], Handler]:
    """Wrap a handler so an `ApiError` raised before a response started becomes `render(e)`."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded_handler(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except ApiError as exc:
                return render(exc)

        return guarded_handler

    return wrap

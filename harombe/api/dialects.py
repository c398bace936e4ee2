"""Unknown routes answered in the dialect the client speaks: JSON, never aiohttp's plain text.

An Ollama client reads `{"error": "..."}`, an OpenAI client `{"error": {"message", "type",
"param", "code"}}`; both parse the body of a 404 or 405, so a plain-text page surfaces as a
confusing decode error instead of "no such endpoint".
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from harombe.api.edge import dialect_error
from harombe.api.errors import ApiError


@web.middleware
async def unknown_routes_in_dialect(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The router's 404 and 405 as JSON errors in the dialect of the path asked."""
    missing = request.match_info.http_exception
    if missing is None:
        return await handler(request)
    where = f"{request.method} {request.path}"
    if isinstance(missing, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(missing.allowed_methods))
        message = f"method not allowed: {where} (allowed: {allowed})"
        response = dialect_error(request.path, ApiError(405, message, code="bad_method"))
        response.headers["Allow"] = allowed
        return response
    return dialect_error(
        request.path, ApiError(404, f"no such endpoint: {where}", code="unknown_url")
    )

"""Unknown routes answered in the dialect the client speaks: JSON, never aiohttp's plain text.

An Ollama client reads `{"error": "..."}`, an OpenAI client `{"error": {"message", "type",
"param", "code"}}`; both parse the body of a 404 or 405, so a plain-text page surfaces as a
confusing decode error instead of "no such endpoint".
"""

from __future__ import annotations

from aiohttp import web

from harombe.api import ollama_api, openai_api
from harombe.api.errors import ApiError, Handler

DIALECTS = (("/api/", ollama_api.error_response), ("/v1/", openai_api.error_response))


@web.middleware
async def unknown_routes_in_dialect(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Renders the router's 404/405 for `/api/*` and `/v1/*`; other paths pass through."""
    missing = request.match_info.http_exception
    if missing is None:
        return await handler(request)
    render = next((r for prefix, r in DIALECTS if request.path.startswith(prefix)), None)
    if render is None:
        return await handler(request)
    where = f"{request.method} {request.path}"
    if isinstance(missing, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(missing.allowed_methods))
        response = render(
            ApiError(405, f"method not allowed: {where} (allowed: {allowed})", code="bad_method")
        )
        response.headers["Allow"] = allowed
        return response
    return render(ApiError(404, f"no such endpoint: {where}", code="unknown_url"))

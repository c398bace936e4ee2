"""Reading a request's body within `limits.max_body_bytes` and `limits.body_timeout`.

Every handler and middleware that reads a body, client or peer, reads it here: a sender that
sends its headers and then trickles or stalls the body is cut off after the same deadline, and
one that sends too much after the same number of bytes.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from harombe.api.errors import ApiError, too_large
from harombe.api.keys import LIMITS_KEY
from harombe.limits import LimitsConfig


async def read_body(request: web.Request) -> bytes:
    """The whole body; ApiError 413 beyond `limits.max_body_bytes` (aiohttp stops reading at
    the app's `client_max_size`), 408 when it has not all arrived within
    `limits.body_timeout`."""
    limits = request.app.get(LIMITS_KEY) or LimitsConfig()
    try:
        if request.content.is_eof():  # it came whole with the headers: nothing to wait for
            return await request.read()
        async with asyncio.timeout(limits.body_timeout):
            return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise too_large(limits.max_body_bytes) from None
    except TimeoutError:
        raise ApiError(
            408,
            f"request body not received within {limits.body_timeout:g} s (limits.body_timeout)",
            code="timeout",
        ) from None

"""`POST /cluster/exclude`: stop (or resume) routing to a node, cluster-wide.

Used by `harombe cluster remove NAME` and `harombe cluster add`. The peer adds the name to the
`excluded` list of its gossiped record, and every peer leaves excluded nodes out of routing.
Only accepted from this machine (a loopback client), like `/cluster/join`.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from aiohttp import web

from harombe.api.body import read_body
from harombe.api.errors import ApiError
from harombe.api.join_api import _is_loopback

EXCLUDE_KEY: web.AppKey[Callable[[str, bool], None]] = web.AppKey("harombe_exclude")
MAX_NAME = 128


async def handle_exclude(request: web.Request) -> web.Response:
    if not _is_loopback(request.remote):
        return web.json_response(
            {"error": "exclusions are accepted from this machine only"}, status=403
        )
    try:
        body = json.loads(await read_body(request))
        name, excluded = body["name"], body.get("excluded", True)
        if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME:
            raise TypeError
        if not isinstance(excluded, bool):
            raise TypeError
    except ApiError as exc:
        return web.json_response({"error": exc.message}, status=exc.status)
    except (ValueError, KeyError, TypeError, AttributeError):
        return web.json_response(
            {
                "error": f'expected a JSON body {{"name": NAME (1-{MAX_NAME} characters), '
                '"excluded": true|false}'
            },
            status=400,
        )
    request.app[EXCLUDE_KEY](name, excluded)
    return web.json_response({"name": name, "excluded": excluded})


def add_exclusion_route(app: web.Application, exclude: Callable[[str, bool], None]) -> None:
    app[EXCLUDE_KEY] = exclude
    app.router.add_post("/cluster/exclude", handle_exclude)

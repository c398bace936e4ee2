"""`POST /cluster/join`: ask this peer to join another (used by `harombe cluster add`).

Only accepted from this machine (a loopback client): joining rewires the cluster, so a remote
caller must not be able to point a peer elsewhere.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable

from aiohttp import web

from harombe.api.body import read_body
from harombe.api.errors import ApiError
from harombe.config import parse_address

JOIN_KEY: web.AppKey[Callable[[list[str]], None]] = web.AppKey("harombe_join")


def _is_loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


async def handle_join(request: web.Request) -> web.Response:
    if not _is_loopback(request.remote):
        return web.json_response({"error": "joins are accepted from this machine only"}, status=403)
    try:
        body = json.loads(await read_body(request))
        address = parse_address(str(body["address"]))
    except ApiError as exc:
        return web.json_response({"error": exc.message}, status=exc.status)
    except (ValueError, KeyError, TypeError):
        return web.json_response(
            {"error": 'expected a JSON body {"address": "HOST:PORT"}'}, status=400
        )
    request.app[JOIN_KEY]([address])
    return web.json_response({"joining": address})


def add_join_route(app: web.Application, join: Callable[[list[str]], None]) -> None:
    app[JOIN_KEY] = join
    app.router.add_post("/cluster/join", handle_join)

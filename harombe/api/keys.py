"""Typed application state shared by the API handlers (and by routes other modules add)."""

from __future__ import annotations

from aiohttp import web

from harombe.limits import LimitsConfig
from harombe.routing.route import Coordinator

COORDINATOR_KEY: web.AppKey[Coordinator] = web.AppKey("harombe_coordinator")
NODE_NAME_KEY: web.AppKey[str] = web.AppKey("harombe_node_name")
LIMITS_KEY: web.AppKey[LimitsConfig] = web.AppKey("harombe_limits")

"""Typed application state shared by the API handlers (and by routes other modules add)."""

from __future__ import annotations

from aiohttp import web

from harombe.routing.route import Coordinator

COORDINATOR_KEY: web.AppKey[Coordinator] = web.AppKey("harombe_coordinator")
NODE_NAME_KEY: web.AppKey[str] = web.AppKey("harombe_node_name")

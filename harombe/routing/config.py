"""Routing's settings live in `harombe.settings.routing` (dependency-free, so `harombe.config`
can import them without importing routing); this name is kept for code written against it."""

from harombe.settings.routing import RoutingConfig

__all__ = ["RoutingConfig"]

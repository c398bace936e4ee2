"""Fixtures for the client API tests: a scripted backend behind a real harombe app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from harombe.api.app import make_app
from harombe.limits import LimitsConfig
from support.api_harness import NODE, RecordingCoordinator, ScriptedBackend


@pytest.fixture
def api_backend() -> ScriptedBackend:
    return ScriptedBackend()


@pytest.fixture
def api_coordinator(api_backend: ScriptedBackend) -> RecordingCoordinator:
    return RecordingCoordinator(api_backend)


@pytest.fixture
async def api_url(
    aiohttp_server: Callable[..., Awaitable[TestServer]], api_coordinator: RecordingCoordinator
) -> str:
    """Base URL of a real harombe app on 127.0.0.1, serving through `api_coordinator`."""
    app: web.Application = make_app(
        node_name=NODE,
        coordinator=api_coordinator,
        limits=LimitsConfig(max_body_bytes=64 * 1024),
    )
    server = await aiohttp_server(app, host="127.0.0.1")
    return str(server.make_url("")).rstrip("/")

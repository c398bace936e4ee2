"""The HTTP API of one peer over its dispatcher, and the middlewares at its edge."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aiohttp import web
from aiohttp.typedefs import Middleware

from harombe.api.app import make_app
from harombe.api.cluster_api import StatusProvider, add_cluster_routes
from harombe.api.dashboard_api import PAGE_PATHS
from harombe.api.draining import drain_middleware
from harombe.api.edge import api_key_middleware
from harombe.api.guard import ConnectionGuard
from harombe.api.peer_auth import RequestVerifier, peer_auth_middleware
from harombe.api.server import peer_certificate_middleware
from harombe.config import HarombeConfig, SecurityConfig
from harombe.drain import Drain
from harombe.inference.peer_wire import HOP_HEADER
from harombe.limits import LimitsConfig
from harombe.routing.dispatch import Dispatcher
from harombe.routing.route import Coordinator
from harombe.sponsored import SponsoredNodes, sponsored_middleware


def api_app(
    *,
    node_name: str,
    dispatcher: Dispatcher,
    coordinator: Coordinator | None = None,
    limits: LimitsConfig | None = None,
    middlewares: Iterable[Middleware] = (),
    status: StatusProvider | None = None,
    authenticated: bool = False,
) -> web.Application:
    """The client dialects (Ollama, OpenAI) and /cluster/forward served by `coordinator`
    (default: `dispatcher`), and /cluster/execute, /cluster/route and /cluster/status by
    `dispatcher`; see `make_app` and `add_cluster_routes`."""
    app = make_app(
        node_name=node_name,
        coordinator=coordinator or dispatcher,
        limits=limits,
        middlewares=middlewares,
    )
    add_cluster_routes(
        app, dispatcher=dispatcher, status_provider=status, authenticated=authenticated
    )
    return app


def request_verifier(
    keyring: Sequence[bytes],
    name: str,
    *,
    aliases: Sequence[str] = (),
    security: SecurityConfig | None = None,
) -> RequestVerifier | None:
    """What checks the signatures of requests other peers send to `name` (also reached as
    `aliases`), with the window and replay bounds of `security` (default: the defaults); None
    in a keyless cluster."""
    if not keyring:
        return None
    security = security or SecurityConfig()
    return RequestVerifier(
        list(keyring),
        destination=name,
        aliases=aliases,
        window=security.request_window,
        nonces_per_sender=security.request_nonces_per_sender,
        max_senders=security.request_max_senders,
    )


def edge_middlewares(
    config: HarombeConfig,
    *,
    guard: ConnectionGuard,
    drain: Drain,
    verifier: RequestVerifier | None,
    sponsored: SponsoredNodes,
    ws_path: str,
) -> list[Middleware]:
    """Outermost first: connection tracking, draining, peer certificates, API keys, peer
    signatures, then the mark of a forwarded request for a plain server this peer sponsors."""
    security = config.security
    middlewares = [guard.middleware(), drain_middleware(drain, config.node.name)]
    if config.tls.ca is not None:
        middlewares.append(peer_certificate_middleware(frozenset({ws_path}), HOP_HEADER))
    if security.api_keys:
        # The dashboard's page and assets hold no data; its event stream needs the key.
        open_paths = [ws_path, *PAGE_PATHS]
        middlewares.append(api_key_middleware(security.api_keys, peer_paths=open_paths))
    middlewares.append(peer_auth_middleware(verifier, log_interval=config.limits.log_interval))
    middlewares.append(sponsored_middleware(sponsored))
    return middlewares

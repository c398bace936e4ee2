"""What a peer tells about itself: /metrics (Prometheus), /cluster/stats (its finished requests
and, fetched with a signature, every live peer's) and the dashboard with its live feed. Each
routed request's end reaches the request log and the request metrics through one middleware."""

from __future__ import annotations

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Middleware

from harombe.api.cluster_api import StatusProvider
from harombe.api.dashboard_api import LiveFeed, add_dashboard_routes
from harombe.api.metrics import LiveParts, add_metrics_route, make_registry
from harombe.api.observe import observe_middleware
from harombe.api.peer_auth import RequestSigner
from harombe.api.stats_api import Peers, PeerStats, add_stats_routes
from harombe.stats.config import MonitoringConfig
from harombe.stats.requests import RequestLog
from harombe.utilisation import Probe, UtilisationSampler


class Monitoring:
    """`parts` are read at each scrape; `requests` is the peer's log of finished requests."""

    def __init__(
        self, config: MonitoringConfig, *, node_name: str, requests: RequestLog, parts: LiveParts
    ) -> None:
        self.config = config
        self.node_name = node_name
        self.requests = requests
        self._registry, request_metrics = make_registry(parts)
        self.middleware: Middleware = observe_middleware([requests, request_metrics])

    def add_routes(
        self,
        app: web.Application,
        *,
        session: aiohttp.ClientSession,
        signer: RequestSigner | None,
        scheme: str,
        peers: Peers,
        status: StatusProvider,
    ) -> None:
        """`peers` names every other live peer (name → address) for /cluster/stats;
        `status` lists the nodes for the dashboard."""
        mon = self.config
        add_metrics_route(app, self._registry)
        fetcher = PeerStats(
            session, timeout=mon.cluster_stats_timeout, signer=signer, scheme=scheme
        )
        add_stats_routes(
            app,
            log=self.requests,
            node_name=self.node_name,
            peers=peers,
            fetcher=fetcher,
            max_recent=mon.recent_requests,
        )
        feed = LiveFeed(self.requests, interval=mon.live_interval, max_clients=mon.max_live_clients)
        add_dashboard_routes(
            app, log=self.requests, node_name=self.node_name, status=status, feed=feed
        )


def utilisation_sampler(config: MonitoringConfig) -> UtilisationSampler:
    """This machine's utilisation, sampled on a timer and gossiped within the deadbands."""
    return UtilisationSampler(
        Probe(),
        interval=config.sample_interval,
        stale_after=config.stale_after,
        deadband_pct=config.gossip_deadband_pct,
        deadband_mib=config.gossip_deadband_mib,
        min_interval=config.gossip_min_interval,
        interval_per_peer=config.gossip_interval_per_peer,
    )

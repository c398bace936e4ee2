"""How a peer finds the others: mDNS on the LAN, and the seeds and hand-listed peers it keeps
joining until it sees one alive (with a one-off report of which seeds answer)."""

from __future__ import annotations

import asyncio

import aiohttp

from harombe.cluster.discovery import MdnsDiscovery, SeedJoiner
from harombe.config import HarombeConfig
from harombe.node.gossip import Gossip
from harombe.node.lifecycle import Stacked
from harombe.node.tasks import cancel_task
from harombe.peer_log import report_seeds


class Discovery(Stacked):
    """An async context manager: started on entry as configured, stopped in reverse on exit."""

    def __init__(
        self,
        config: HarombeConfig,
        *,
        gossip: Gossip,
        host: str,
        port: int,
        session: aiohttp.ClientSession,
    ) -> None:
        super().__init__()
        self.config = config
        self.gossip = gossip
        self.host = host
        self.port = port
        self.session = session

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def on_discovered(self, address: str) -> None:
        if address != self.address:
            self.gossip.join([address])

    async def _start(self) -> None:
        cluster, discovery = self.config.cluster, self.config.discovery
        if discovery.uses_mdns(cluster):
            mdns = MdnsDiscovery(
                name=self.config.node.name,
                label=cluster.label,
                api_port=self.port,
                host=self.host,
                interfaces=cluster.mdns_interfaces,
                on_peer=self.on_discovered,
                service_type=discovery.service,
            )
            await mdns.start()
            self._stack.push_async_callback(mdns.close)
        listed = cluster.seed_addresses() if discovery.uses_seeds() else []
        seeds = [s for s in listed if s != self.address]
        if not seeds:
            return
        joiner = SeedJoiner(
            seeds,
            join=self.gossip.join,
            is_joined=self.gossip.is_joined,
            known_addresses=self.gossip.alive_addresses,
        )
        await joiner.start()
        self._stack.push_async_callback(joiner.close)
        timeout = cluster.transport.connect_timeout
        reporter = asyncio.create_task(
            report_seeds(self.session, seeds, timeout, self.config.tls.scheme),
            name="harombe-seed-report",
        )
        self._stack.push_async_callback(cancel_task, reporter)

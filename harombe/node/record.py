"""This peer's gossiped record: what its backend serves (re-read now and then), its load,
hardware and utilisation, the plain servers it sponsors, the nodes it excludes; rebuilt on a
timer and gossiped (the membership's own rate limit decides how often it travels)."""

from __future__ import annotations

import asyncio
import logging

from harombe import __version__
from harombe.agent.service import AgentService
from harombe.cluster.record import NodeRecord
from harombe.config import BackendConfig, HarombeConfig
from harombe.drain import Drain
from harombe.hardware import HardwareInfo
from harombe.inference.stats import MeasuredBackend
from harombe.inference.types import BackendError
from harombe.node.gossip import Gossip
from harombe.peer_log import BackendLog
from harombe.routing.dispatch import Dispatcher
from harombe.routing.fit import advertised
from harombe.sponsored import SponsoredNodes
from harombe.utilisation import UtilisationSampler

log = logging.getLogger(__name__)

RECORD_REFRESH_S = 1.0  # how often the local record is rebuilt; gossip rate-limits it further
MODELS_REFRESH_S = 5.0  # how often the backend's models (and so its health) are re-read


class ServedModels:
    """What the local backend serves, as last read: models available and loaded, context
    windows and tool calling, and whether it answers at all."""

    def __init__(self, backend: MeasuredBackend, config: BackendConfig) -> None:
        self.backend = backend
        self.models: list[str] = []
        self.loaded: list[str] = []
        self.ctx: dict[str, int] = {}  # context window per model
        self.tool_models: list[str] = []
        self.ok = False
        self._log = BackendLog(config.kind, backend_location(config), MODELS_REFRESH_S)

    async def refresh(self) -> None:
        """Re-read the backend's models; a backend that cannot list them is gossiped as down,
        so peers stop sending it work until it answers again."""
        try:
            infos = await self.backend.list_models()
            models = [m.name for m in infos]
            loaded = [m.name for m in await self.backend.loaded_models()]
        except (BackendError, OSError, TimeoutError) as exc:
            self._log.failed(exc)
            self.ok = False
            return
        self.models, self.loaded = models, loaded
        self.ctx, self.tool_models = advertised(infos)
        self.ok = self.backend.kind != "none"
        if self.ok:
            self._log.answered(models)


class LocalRecord:
    """Builds the record from the peer's parts. The dispatcher and the agent are built after
    the first record (the membership needs one to start), so they are set when they exist."""

    def __init__(
        self,
        config: HarombeConfig,
        *,
        address: str,
        served: ServedModels,
        hardware: HardwareInfo | None,
        sampler: UtilisationSampler,
        sponsored: SponsoredNodes | None,
        drain: Drain,
    ) -> None:
        self.config = config
        self.address = address
        self.drain = drain
        self.served = served
        self.hardware = hardware
        self.sampler = sampler
        self.sponsored = sponsored
        self.dispatcher: Dispatcher | None = None
        self.agent: AgentService | None = None
        self.excluded: set[str] = set(config.cluster.excluded)

    def exclude(self, name: str, excluded: bool) -> None:
        """Stop (or resume) routing to `name` cluster-wide, from the next record on."""
        if excluded:
            self.excluded.add(name)
            log.info("excluding node %s: the cluster stops routing to it", name)
        elif name in self.excluded:
            self.excluded.discard(name)
            log.info("node %s no longer excluded", name)

    def build(self, alive_peers: int = 1) -> NodeRecord:
        """`alive_peers` (this one included) spaces out utilisation news in large clusters."""
        cfg, served = self.config, self.served
        ttft, tps = served.backend.stats.snapshot()
        active, queue = self.dispatcher.load() if self.dispatcher else (0, 0)
        return NodeRecord(
            name=cfg.node.name,
            address=self.address,
            tier=cfg.node.tier,
            models=served.models,
            loaded=served.loaded,
            hardware=self.hardware.summary() if self.hardware else {},
            capacity=cfg.node.capacity,
            active=active,
            queue=queue,
            tps=tps,
            ttft=ttft,
            backend_ok=served.ok,
            version=__version__,
            ctx=served.ctx,
            tool_models=served.tool_models,
            tools=self.agent.shared_tools() if self.agent else [],
            utilisation=self.sampler.gossiped(alive_peers),
            sponsored=self.sponsored.entries() if self.sponsored else [],
            excluded=sorted(self._excluded_now()),
        )

    def _excluded_now(self) -> set[str]:
        """A draining peer excludes itself: coordinators stop choosing it."""
        return self.excluded | {self.config.node.name} if self.drain.draining else self.excluded

    def publish(self, gossip: Gossip) -> None:
        gossip.publish(self.build(gossip.membership.alive_count()))

    async def refresh_forever(self, gossip: Gossip) -> None:
        """Rebuild and gossip the record every RECORD_REFRESH_S, re-reading the backend's
        models every MODELS_REFRESH_S."""
        loop = asyncio.get_running_loop()
        last_models = loop.time()
        while True:
            await asyncio.sleep(RECORD_REFRESH_S)
            if loop.time() - last_models >= MODELS_REFRESH_S:
                await self.served.refresh()
                last_models = loop.time()
            self.publish(gossip)


def backend_location(config: BackendConfig) -> str:
    """Where the local backend is, for the log: its URL, or the GGUF it serves."""
    if config.kind == "llamacpp":
        return str(config.gguf) if config.gguf else "the built-in demo model"
    return config.resolved_url() or "-"

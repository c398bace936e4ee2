"""Finding peers to join: mDNS on a LAN, a seed list anywhere.

Both only produce addresses ("host:port") for the membership to join; neither decides who is
a member. mDNS announces this node as `_harombe._tcp.local.` and reports every peer of the same
cluster label it resolves; the seed joiner keeps joining configured seeds until the node is in a
cluster, then re-joins missing seeds now and then so a healed partition merges again.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import random
from collections.abc import Callable, Collection, Sequence

from zeroconf import IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from harombe.cluster.backoff import backoff_delay
from harombe.cluster.codec import PROTOCOL_VERSION

log = logging.getLogger(__name__)

SERVICE_TYPE = "_harombe._tcp.local."


def label_hash(label: str) -> str:
    """What the TXT record carries instead of the label itself: sha256 hex, first 16 chars."""
    return hashlib.sha256(label.encode()).hexdigest()[:16]


def announced_address(info: AsyncServiceInfo, wanted_label_hash: str) -> str | None:
    """`host:port` of a resolved `_harombe._tcp` service of our label and protocol, else None."""
    txt = info.decoded_properties
    if txt.get("label") != wanted_label_hash or txt.get("proto") != str(PROTOCOL_VERSION):
        log.debug("mDNS: ignoring %s (another cluster label or protocol version)", info.name)
        return None
    if info.port is None:
        return None
    ipv4 = info.parsed_addresses(IPVersion.V4Only)
    if ipv4:
        return f"{ipv4[0]}:{info.port}"
    ipv6 = info.parsed_addresses(IPVersion.V6Only)
    return f"[{ipv6[0]}]:{info.port}" if ipv6 else None


class MdnsDiscovery:
    """Announce this node over mDNS and report peers of the same cluster label.

    Parameters:
      name: this node's name (the instance name, and skipped when seen).
      label: the cluster label; peers announcing another label's hash, or another membership
        protocol version, are ignored.
      api_port: the HTTP port peers should connect to.
      host: the IP address advertised for this node (its A or AAAA record); the address
        peers dial, as for the membership.
      interfaces: restrict mDNS to these interface addresses (config `cluster.mdns_interfaces`,
        e.g. ["127.0.0.1"]); None means all interfaces.
      on_peer: called with "host:port" for each peer resolved (repeats are possible).
      resolve_timeout (3.0): seconds to wait for a seen peer's SRV/TXT/A records.
      service_type: the mDNS service type announced and browsed (discovery.service).
    """

    def __init__(
        self,
        *,
        name: str,
        label: str,
        api_port: int,
        host: str,
        interfaces: Sequence[str] | None,
        on_peer: Callable[[str], None],
        resolve_timeout: float = 3.0,
        service_type: str = SERVICE_TYPE,
    ) -> None:
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            raise ValueError(
                f"mDNS advertises an IP address, got {host!r}; set server.advertise_host "
                "to this machine's address or turn cluster.mdns off"
            ) from None
        self.name = name
        self._label_hash = label_hash(label)
        self._interfaces = list(interfaces) if interfaces is not None else None
        self._on_peer = on_peer
        self._resolve_timeout = resolve_timeout
        self._service = service_type if service_type.endswith(".") else f"{service_type}."
        self._info = AsyncServiceInfo(
            self._service,
            f"{name}.{self._service}",
            port=api_port,
            properties={
                "name": name,
                "port": str(api_port),
                "proto": str(PROTOCOL_VERSION),
                "label": self._label_hash,
            },
            server=f"{name}.local.",
            parsed_addresses=[host.strip("[]")],
        )
        self._zc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._resolving: dict[str, asyncio.Task[None]] = {}

    async def start(self) -> None:
        if self._interfaces is None:
            zc = AsyncZeroconf()
        else:
            zc = AsyncZeroconf(interfaces=self._interfaces)
        try:
            await zc.async_register_service(self._info, allow_name_change=True)
        except BaseException:
            await zc.async_close()
            raise
        self._zc = zc
        self._browser = AsyncServiceBrowser(
            zc.zeroconf, self._service, handlers=[self._on_state_change]
        )

    async def close(self) -> None:
        """Stop browsing, say goodbye, then close the sockets (in that order)."""
        tasks = list(self._resolving.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._browser is not None:
            await self._browser.async_cancel()
        if self._zc is not None:
            await self._zc.async_unregister_service(self._info)
            await self._zc.async_close()

    def _on_state_change(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        """Browser callback: stays synchronous and only schedules the resolution."""
        if state_change is ServiceStateChange.Removed or name in self._resolving:
            return
        task = asyncio.create_task(self._resolve(name), name=f"harombe-mdns-resolve {name}")
        self._resolving[name] = task
        task.add_done_callback(lambda t: self._resolve_done(name, t))

    def _resolve_done(self, name: str, task: asyncio.Task[None]) -> None:
        del self._resolving[name]
        if not task.cancelled() and task.exception() is not None:
            log.error("resolving %s failed", name, exc_info=task.exception())

    async def _resolve(self, name: str) -> None:
        assert self._zc is not None
        info = AsyncServiceInfo(self._service, name)
        if not await info.async_request(self._zc.zeroconf, self._resolve_timeout * 1000):
            log.debug("mDNS: %s did not resolve", name)
            return
        address = None
        if info.decoded_properties.get("name") != self.name:
            address = announced_address(info, self._label_hash)
        if address is not None:
            self._on_peer(address)


class SeedJoiner:
    """Join configured seeds until this node is in a cluster, then keep the seeds joined.

    Parameters:
      seeds: "host:port" of peers to join.
      join: asks the membership to join these addresses (non-blocking).
      is_joined: True once at least one other member is alive.
      known_addresses: addresses of members currently alive; seeds among them are not
        re-joined. None re-joins every seed each interval (joins are idempotent).
      backoff_min (0.5), backoff_max (30.0): seconds between tries while not joined; the
        ceiling doubles per try, with jitter so a restarted cluster does not retry in lockstep.
      rejoin_interval (60.0): seconds between re-joins of missing seeds once joined; heals
        partitions that the gossip alone cannot (two halves that forgot each other).
      rng: random source for the jitter.
    """

    def __init__(
        self,
        seeds: Sequence[str],
        join: Callable[[list[str]], None],
        is_joined: Callable[[], bool],
        *,
        known_addresses: Callable[[], Collection[str]] | None = None,
        backoff_min: float = 0.5,
        backoff_max: float = 30.0,
        rejoin_interval: float = 60.0,
        rng: random.Random | None = None,
    ) -> None:
        self.seeds = list(dict.fromkeys(seeds))
        self._join = join
        self._is_joined = is_joined
        self._known_addresses = known_addresses
        self._backoff_min = backoff_min
        self._backoff_max = backoff_max
        self._rejoin_interval = rejoin_interval
        self._rng = rng or random.Random()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.seeds:
            self._task = asyncio.create_task(self._run(), name="harombe-seed-joiner")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        attempt = 0
        while True:
            if self._is_joined():
                attempt = 0
                missing = self._missing_seeds()
                if missing:
                    self._join(missing)
                delay = self._rejoin_interval
            else:
                attempt += 1
                self._join(self.seeds)
                delay = backoff_delay(attempt, self._backoff_min, self._backoff_max, self._rng)
            await asyncio.sleep(delay)

    def _missing_seeds(self) -> list[str]:
        if self._known_addresses is None:
            return self.seeds
        known = set(self._known_addresses())
        return [seed for seed in self.seeds if seed not in known]

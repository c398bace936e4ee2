"""The cluster's sections: peers to join and nodes listed by hand (`cluster`, with the
membership timings and the peer websocket links), and how peers are found (`discovery`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from harombe.cluster.config import MembershipConfig
from harombe.config.common import DEFAULT_PORT, Section, parse_address

NodeKind = Literal["harombe", "ollama", "openai"]
DEFAULT_NODE_PORTS: dict[str, int] = {"harombe": DEFAULT_PORT, "ollama": 11434, "openai": 8080}


class SeedNode(Section):
    """A node listed by hand (the seed notes' `cluster.nodes`): a harombe peer, joined like a
    seed, or a plain inference server, which the peers listing it health-check and share with
    the cluster as a node they sponsor."""

    name: str = Field(min_length=1, max_length=128, description="The node's name in the cluster.")
    host: str = Field(min_length=1, description="Host name or address.")
    port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port. Default: 8765 for a harombe peer, 11434 for ollama, 8080 for openai.",
    )
    kind: NodeKind | None = Field(
        default=None,
        description="harombe (a peer), ollama or openai (a plain inference server). Default: "
        "found out by asking the node (harombe's /health, Ollama's /api/tags, OpenAI's "
        "/v1/models).",
    )
    tier: int | None = Field(
        default=None, ge=0, le=2, description="Tier of a plain server (a peer says its own)."
    )
    model: str | None = Field(
        default=None,
        description="The model a plain server runs (default: every model it lists).",
    )
    auth: str | None = Field(
        default=None, description="Bearer token sent to a plain server (Authorization header)."
    )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port or DEFAULT_PORT}"

    def url(self, kind: str) -> str:
        """The base URL of this node if it is of `kind`."""
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"http://{host}:{self.port or DEFAULT_NODE_PORTS[kind]}"


class TransportConfig(Section):
    """The peer websocket links that carry membership frames (seconds and frames)."""

    connect_timeout: float = Field(
        default=2.0, gt=0, description="Seconds to dial a peer and upgrade to a websocket."
    )
    heartbeat: float = Field(
        default=5.0,
        gt=0,
        description="Websocket ping interval; a pong missing for half of it drops the link, "
        "which notices a half-open connection sooner than TCP does.",
    )
    reconnect_min: float = Field(
        default=0.1, gt=0, description="First redial delay after a failed dial."
    )
    reconnect_max: float = Field(
        default=5.0,
        gt=0,
        description="Longest redial delay (it doubles per failure, with jitter). A peer that "
        "dials in ends the wait at once, so a restarted peer is not cut off for this long.",
    )
    max_connect_failures: int = Field(
        default=8,
        ge=1,
        description="Failed dials in a row before a link is dropped; the next frame to that "
        "peer dials afresh. Membership declares dead peers on its own; this only frees links.",
    )
    idle_timeout: float = Field(
        default=60.0, gt=0, description="A link that carried nothing this long is closed."
    )
    close_timeout: float = Field(
        default=1.0,
        gt=0,
        description="On shutdown, how long queued frames (the leave among them) may still go out.",
    )
    queue_size: int = Field(
        default=256,
        ge=1,
        description="Frames queued per peer before new ones are dropped (the protocol tolerates "
        "loss; a large queue only delays news).",
    )


class ClusterConfig(Section):
    label: str = Field(
        default="harombe",
        description="Cluster name; peers with another label ignore each other (mDNS and frames).",
    )
    seeds: list[str] = Field(
        default_factory=list, description="HOST:PORT of peers to join; retried with backoff."
    )
    nodes: list[SeedNode] = Field(
        default_factory=list,
        description="Nodes listed by hand: harombe peers (joined like seeds) and plain "
        "inference servers (name, host, port, kind, tier, model, auth); see "
        "docs/configuration.md.",
    )
    mdns: bool = Field(default=True, description="Announce and discover peers by mDNS.")
    mdns_interfaces: list[str] | None = Field(
        default=None,
        description="Restrict mDNS to these interface addresses (e.g. ['127.0.0.1']); "
        "default: all interfaces.",
    )
    membership: MembershipConfig = Field(default_factory=MembershipConfig)
    transport: TransportConfig = Field(default_factory=TransportConfig)
    coordinator: dict[str, Any] | None = Field(
        default=None,
        description="Accepted from the seed notes' cluster files and ignored (said once in the "
        "log): every peer coordinates the requests it receives.",
    )
    excluded: list[str] = Field(
        default_factory=list,
        description="Node names removed with `harombe cluster remove`: this peer tells the "
        "cluster (in its gossiped record) never to route to them, until `harombe cluster add`.",
    )
    node_check_interval: float = Field(
        default=5.0,
        gt=0,
        description="Seconds between health checks of each plain inference server in `nodes`; "
        "a failed check stops routing to it until one succeeds.",
    )
    node_check_timeout: float = Field(
        default=5.0,
        gt=0,
        description="Seconds a plain server's health check (listing its models) may take.",
    )

    @field_validator("seeds")
    @classmethod
    def _check_seeds(cls, seeds: list[str]) -> list[str]:
        for seed in seeds:
            parse_address(seed)
        return seeds

    def seed_addresses(self) -> list[str]:
        """Seeds, and the listed nodes that are (or may be) harombe peers."""
        peers = [n.address for n in self.nodes if n.kind in (None, "harombe")]
        return list(dict.fromkeys([*self.seeds, *peers]))

    @field_validator("nodes")
    @classmethod
    def _unique_names(cls, nodes: list[SeedNode]) -> list[SeedNode]:
        names = [n.name for n in nodes]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"node names must be unique; listed twice: {', '.join(twice)}")
        return nodes


class DiscoveryConfig(Section):
    """How peers find each other (the seed notes' `discovery` section)."""

    method: Literal["mdns", "explicit", "both"] = Field(
        default="both",
        description="mdns: announce and find peers on the LAN; explicit: only `cluster.seeds` "
        "and `cluster.nodes`; both. `cluster.mdns: false` (or --no-mdns) turns mDNS off in "
        "any case.",
    )
    service: str = Field(
        default="_harombe._tcp.local.",
        pattern=r"^_[A-Za-z0-9-]{1,15}\._tcp\.local\.?$",
        description="The mDNS service type announced and browsed (`_NAME._tcp.local`).",
    )

    def uses_mdns(self, cluster: ClusterConfig) -> bool:
        return cluster.mdns and self.method != "explicit"

    def uses_seeds(self) -> bool:
        return self.method != "mdns"

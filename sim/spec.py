"""What a simulated cluster is made of: its size, links, hardware mix and protocol settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from harombe.cluster.config import MembershipConfig
from harombe.settings.routing import RoutingConfig
from sim.backends import DGX_72B, MAC_MINI_3B, RTX4090_14B, HardwareProfile
from sim.network import LinkProfile

DEFAULT_MIX: tuple[tuple[HardwareProfile, float], ...] = (
    (MAC_MINI_3B, 0.5),
    (RTX4090_14B, 0.35),
    (DGX_72B, 0.15),
)


@dataclass
class ClusterSpec:
    peers: int = 50
    seed: int = 1
    membership: MembershipConfig = field(default_factory=MembershipConfig)
    link: LinkProfile = field(default_factory=LinkProfile)
    mix: tuple[tuple[HardwareProfile, float], ...] = DEFAULT_MIX
    routing: bool = True  # build a dispatcher per peer (off: membership only)
    routing_config: RoutingConfig = field(default_factory=RoutingConfig)
    join_rate: float = 200.0  # initial peers started per second
    converged_start: bool = False
    """Start every initial peer knowing every other (Membership.adopt) instead of joining:
    skips the N² join storm, which is what limits the simulator's start-up past ~1,000 peers."""
    seeds_per_join: int = 3  # known peers each new peer joins through
    connect_timeout: float = 2.0  # a connection to a cut-off (not dead) peer fails after this
    dissemination_fraction: float = 0.9999

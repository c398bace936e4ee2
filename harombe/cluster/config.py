"""Membership timings and limits (SWIM + Lifeguard), all in seconds, bytes or counts.

The defaults (`profile="lan"`) are tuned for the targets in DESIGN.md rather than copied from
memberlist: memberlist's LAN config detects a dead peer in ~10 s; harombe wants p50 <= 5 s and
p99 <= 8 s at 100 peers with zero false deaths at 5 % loss. Three changes get there: probing
twice as often (0.5 s instead of 1 s; ~0.2 KB/s per peer at rest), a suspicion multiplier of 3
instead of 4 (one independent confirmation instead of two brings the suspicion timeout down to
its floor) and 5 indirect probes instead of 3 (false suspicions, and the refutation traffic
they cause, become rare at 5 % loss). Unconfirmed suspicions still wait 6x longer, which is what
keeps lossy links from killing healthy peers.

Profiles override a few fields, like memberlist's DefaultWANConfig / DefaultLocalConfig:
`wan` for peers across the internet (slower, more tolerant), `local` for peers on one host
(tests, `harombe demo`: fast detection, short intervals). Fields given explicitly win over the
profile: `MembershipConfig(profile="wan", probe_timeout=2)`.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Profile = Literal["lan", "wan", "local"]

_PROFILES: dict[str, dict[str, Any]] = {
    "lan": {},
    "wan": {
        "probe_interval": 2.0,
        "probe_timeout": 1.5,
        "suspicion_mult": 5,
        "gossip_interval": 0.5,
        "gossip_nodes": 4,
        "gossip_to_dead_time": 60.0,
        "pushpull_interval": 60.0,
        "replay_window": 120.0,
    },
    "local": {
        "probe_interval": 0.2,
        "probe_timeout": 0.1,
        "gossip_interval": 0.05,
        "gossip_to_dead_time": 5.0,
        "pushpull_interval": 5.0,
        "tombstone_timeout": 20.0,
        "load_min_interval": 0.2,
        "join_retry_interval": 0.2,
        "join_followup": 0.3,
        "leave_timeout": 1.0,
    },
}


class MembershipConfig(BaseModel):
    """Every timing and limit of the membership protocol (seconds unless noted)."""

    model_config = ConfigDict(extra="forbid")

    profile: Profile = Field(
        default="lan",
        description="Base profile: lan (default), wan (slower, tolerant of latency and "
        "loss across the internet), local (one host: tests and demos). Fields set "
        "explicitly override the profile's values.",
    )

    # --- failure detection -------------------------------------------------------------
    probe_interval: float = Field(
        default=0.5,
        gt=0,
        description="Seconds between probes of one random peer (round robin). Shorter detects "
        "failures sooner at the cost of one ping+ack per interval per peer (~0.25 KB each).",
    )
    probe_timeout: float = Field(
        default=0.25,
        gt=0,
        description="Seconds to wait for a direct ack before asking `indirect_checks` others "
        "to probe. Should be above the 99th percentile RTT; too low turns slow peers into "
        "indirect probes (more traffic), too high delays detection.",
    )
    indirect_checks: int = Field(
        default=5,
        ge=0,
        description="Peers asked to probe a target that missed its direct ack (memberlist: 3). "
        "Each one divides the odds of a false suspicion on a lossy network by ~5 (at 5 % loss, "
        "5 instead of 3 cut refutation traffic at 300 peers from ~1.3 to ~0.45 KB/s per "
        "peer), at ~4 small frames each, only when a direct probe fails.",
    )
    nack_fraction: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="A relay sends a nack (Lifeguard) if the target has not acked within "
        "this fraction of its probe timeout, so the nack arrives before the prober gives up.",
    )
    suspicion_mult: int = Field(
        default=3,
        ge=1,
        description="Suspicion timeout floor = suspicion_mult * max(1, log10(n)) * "
        "probe_interval (3 s at 100 peers). Also sets the confirmations expected before the "
        "timeout reaches its floor: suspicion_mult - 2 (memberlist's rule). Higher: fewer "
        "false deaths on bad links, slower detection.",
    )
    suspicion_max_timeout_mult: int = Field(
        default=6,
        ge=1,
        description="Suspicion timeout ceiling = this * the floor. An unconfirmed suspicion "
        "waits this long, giving a healthy peer time to refute; independent confirmations "
        "shrink it towards the floor (Lifeguard).",
    )
    awareness_max_multiplier: int = Field(
        default=8,
        ge=1,
        description="Cap of the local-health multiplier: when this node itself is unhealthy "
        "(missed nacks, refutations, event-loop lag) its probe interval, probe timeout and "
        "suspicion timeout scale up to this many times, so a slow or cut-off node stops "
        "accusing healthy ones; while its suspicion timeout is scaled it re-gossips the "
        "suspicion every floor seconds so the accused can refute. Higher: a flapping node "
        "waits longer; healthy peers still detect real failures at the normal speed.",
    )
    loop_lag_threshold: float = Field(
        default=0.1,
        gt=0,
        description="Event-loop lag (seconds late for a scheduled tick) that counts as a "
        "local-health problem; each occurrence raises the health score by one, at most once "
        "per probe interval.",
    )
    rtt_alpha: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="Weight of a new probe RTT sample in the per-peer RTT average (EWMA).",
    )

    # --- dissemination -----------------------------------------------------------------
    retransmit_mult: int = Field(
        default=4,
        ge=1,
        description="Each broadcast is piggybacked retransmit_mult * ceil(log10(n+1)) times "
        "(16 at 1,000 peers). Higher: more reliable dissemination under loss, more bytes.",
    )
    load_retransmit_mult: int = Field(
        default=2,
        ge=1,
        description="Like retransmit_mult, for load-only updates: each is piggybacked "
        "load_retransmit_mult * ceil(log10(n+1)) times. Load is soft state that the node's "
        "next update replaces, so fewer sends are enough; a peer that misses one (roughly "
        "e^-sends of the peers: 2 % at 60 peers) keeps the previous load until the next update "
        "or push/pull. Load updates are most of the gossip under queries: halving this halves "
        "that traffic.",
    )
    gossip_interval: float = Field(
        default=0.2,
        gt=0,
        description="Seconds between gossip rounds while broadcasts are queued (none at rest). "
        "Shorter spreads news faster for more frames.",
    )
    gossip_nodes: int = Field(
        default=3,
        ge=1,
        description="Random peers sent queued broadcasts each gossip round (fan-out).",
    )
    gossip_to_dead_time: float = Field(
        default=30.0,
        ge=0,
        description="Dead or left peers still receive gossip for this long, so a peer wrongly "
        "declared dead hears it and refutes.",
    )
    piggyback_bytes: int = Field(
        default=16384,
        ge=64,
        description="Bytes of queued broadcasts carried on each frame (gossip or protocol). "
        "Bounds gossip traffic while news is queued (none at rest): at most gossip_nodes * "
        "piggyback_bytes per gossip interval. memberlist's 1,400 fits a UDP datagram; "
        "harombe's frames travel over websockets (TCP), where a bigger frame costs nothing "
        "extra, and a burst of news drains in seconds instead of a minute (1,000 peers "
        "started at once: 3.5-5.8 s to agree instead of 63 s in the simulator).",
    )
    max_frame_messages: int = Field(
        default=256,
        ge=2,
        description="Most messages in one frame (primary + piggybacked); frames with more are "
        "dropped as malformed.",
    )
    broadcast_queue_max: int = Field(
        default=4096,
        ge=16,
        description="Most queued broadcasts; beyond it the most-retransmitted are dropped "
        "(push/pull repairs what gossip missed).",
    )

    # --- anti-entropy ------------------------------------------------------------------
    pushpull_interval: float = Field(
        default=30.0,
        gt=0,
        description="Seconds between digest exchanges with one random peer (anti-entropy). "
        "Scaled up with cluster size like memberlist's pushPullScale (x2 above 32 peers, x3 "
        "above 64, ...), capped at pushpull_max_interval. Each exchange opens with a hash of "
        "the digest (~60 bytes); only when the two views differ is the digest (~25 bytes "
        "per peer) sent, so at rest the cost does not grow with the cluster.",
    )
    pushpull_max_interval: float = Field(
        default=60.0,
        gt=0,
        description="Cap of the scaled push/pull interval.",
    )
    join_followup: float = Field(
        default=1.0,
        gt=0,
        description="Seconds after a join is answered until one more state exchange with the "
        "same seed, which picks up peers that joined through it at the same time (they learn "
        "of each other from no one else until the next push/pull).",
    )
    join_retry_interval: float = Field(
        default=1.0,
        gt=0,
        description="First retry delay of an unanswered join; doubles up to "
        "pushpull_interval until the seed answers.",
    )

    # --- tombstones, leave, records ------------------------------------------------------
    tombstone_timeout: float = Field(
        default=120.0,
        gt=0,
        description="Dead and left peers are kept (as tombstones) this long, then forgotten. "
        "Longer than the push/pull cap so a stale state exchange cannot revive them.",
    )
    leave_timeout: float = Field(
        default=2.0,
        ge=0,
        description="On graceful leave, how long the runner keeps gossiping the 'left' "
        "message before it stops.",
    )
    leave_transmits: int = Field(
        default=2,
        ge=1,
        description="Gossip rounds that must have carried the 'left' message before a "
        "graceful leave counts as propagated.",
    )
    load_min_interval: float = Field(
        default=2.0,
        ge=0,
        description="A record change that touches only load (active, queue, tps, ttft, "
        "utilisation) is "
        "gossiped as a small load message, at most once per this many seconds per node; other "
        "changes go out at once as the whole record. Trade-off: gossiped load is up to this "
        "stale (coordinators also count their own in-flight requests per node, so routing "
        "tolerates a few seconds) against membership traffic, which grows with the cluster's "
        "load-update rate: each update is re-gossiped by every peer.",
    )
    load_gossip_bytes: int = Field(
        default=512,
        ge=64,
        description="Bytes per second each peer spends gossiping load updates, its own and "
        "those it relays (load messages, and the frame overhead of gossip frames that carry "
        "only load), with at most one second's worth in a burst. Load news waits in its own "
        "queue, where a node's newer load replaces its older one, and goes out after every "
        "other kind of news. Without the budget, per-peer traffic under queries grows with "
        "the number of busy nodes (every peer relays every node's load); with it, traffic is "
        "flat and load news grows staler instead when many nodes are busy at once.",
    )
    load_digits: int = Field(
        default=2,
        ge=1,
        description="Quantization step of gossiped tokens/s and time-to-first-token: rounded "
        "to this many significant digits, so jitter does not publish new records.",
    )
    max_record_bytes: int = Field(
        default=8192,
        ge=256,
        description="Largest encoded local record (update_record raises ValueError above "
        "it); keeps alive messages and push/pull entries small.",
    )

    # --- frames and security -------------------------------------------------------------
    max_frame_bytes: int = Field(
        default=64 * 1024,
        ge=4096,
        description="Largest frame sent or accepted, checked before decoding (also the "
        "websocket transport's max message size). Push/pull state is split to fit.",
    )
    drop_log_interval: float = Field(
        default=60.0,
        gt=0,
        description="Frames dropped as hostile or broken (malformed, too_deep, out_of_range, "
        "unauthenticated, ...) are counted by reason (/cluster/status, metrics) and logged as "
        "one warning line per reason at most once per this many seconds, never a traceback "
        "per frame.",
    )
    replay_window: float = Field(
        default=60.0,
        gt=0,
        description="With a cluster key: frames whose wall-clock timestamp is further than "
        "this from ours are dropped as stale (bounds clock skew and replay age).",
    )
    replay_cache_per_sender: int = Field(
        default=4096,
        ge=16,
        description="With a cluster key: frame nonces remembered per sender to drop replays.",
    )
    replay_max_senders: int = Field(
        default=4096,
        ge=16,
        description="With a cluster key: senders whose nonces are remembered (least recently "
        "heard forgotten first).",
    )

    @model_validator(mode="before")
    @classmethod
    def _apply_profile(cls, data: Any) -> Any:
        if isinstance(data, dict):
            profile = data.get("profile", "lan")
            if isinstance(profile, str) and profile in _PROFILES:
                return {**_PROFILES[profile], **data}
        return data

    @classmethod
    def lan(cls, **overrides: Any) -> MembershipConfig:
        return cls(profile="lan", **overrides)

    @classmethod
    def wan(cls, **overrides: Any) -> MembershipConfig:
        return cls(profile="wan", **overrides)

    @classmethod
    def local(cls, **overrides: Any) -> MembershipConfig:
        return cls(profile="local", **overrides)

    def retransmit_limit(self, n: int) -> int:
        """How many times each broadcast is sent, for a cluster of n live peers."""
        return self.retransmit_mult * max(1, math.ceil(math.log10(n + 1)))

    def load_retransmit_limit(self, n: int) -> int:
        """How many times each load-only update is sent, for a cluster of n live peers."""
        return self.load_retransmit_mult * max(1, math.ceil(math.log10(n + 1)))

    def suspicion_bounds(self, n: int) -> tuple[float, float]:
        """(floor, ceiling) of the suspicion timeout for n live peers."""
        floor = self.suspicion_mult * max(1.0, math.log10(max(1, n))) * self.probe_interval
        return floor, floor * self.suspicion_max_timeout_mult

    def suspicion_confirmations(self, n: int) -> int:
        """Independent confirmations expected before the timeout reaches its floor."""
        k = self.suspicion_mult - 2
        return 0 if n - 2 < k else max(0, k)

    def pushpull_period(self, n: int) -> float:
        """memberlist's pushPullScale: one more interval per doubling above 32 peers, capped."""
        if n <= 32:
            return min(self.pushpull_interval, self.pushpull_max_interval)
        mult = math.ceil(math.log2(n) - math.log2(32)) + 1
        return min(self.pushpull_interval * mult, self.pushpull_max_interval)

"""Monitoring settings: request statistics, utilisation sampling, the dashboard's live feed."""

from pydantic import BaseModel, ConfigDict, Field


class MonitoringConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sample_interval: float = Field(
        default=5.0,
        gt=0,
        description="Seconds between samples of this machine's CPU, RAM, GPU utilisation and "
        "VRAM (taken in a thread, off the event loop). Each changed sample is gossiped with the "
        "load record, so a shorter interval shows load sooner but sends more gossip.",
    )
    stale_after: float = Field(
        default=3.0,
        ge=1,
        description="A sample older than this many sample intervals (a stuck driver, a hung "
        "rocm-smi) is withdrawn: the node reports its utilisation as unknown rather than old.",
    )
    gossip_deadband_pct: int = Field(
        default=10,
        ge=0,
        le=100,
        description="A CPU or GPU share is gossiped anew only once it moved this many points "
        "from the value last gossiped: samples are noisy, and each change is a load update "
        "every peer relays. 0 sends every change (in 5-point steps).",
    )
    gossip_deadband_mib: int = Field(
        default=1024,
        ge=0,
        description="Likewise for RAM and VRAM in use, in MiB: loading or unloading a model "
        "moves them by far more; 0 sends every change (in 256 MiB steps).",
    )
    gossip_min_interval: float = Field(
        default=10.0,
        ge=0,
        description="Seconds at least between two utilisation updates this node gossips.",
    )
    gossip_interval_per_peer: float = Field(
        default=2.0,
        ge=0,
        description="Seconds per live peer between two utilisation updates, when that is longer "
        "than gossip_min_interval (20 peers: every 40 s). "
        "Every peer relays each update, so scaling the interval with the cluster keeps the "
        "utilisation traffic per peer flat as it grows; the price is staler numbers in large "
        "clusters. A stale sample is withdrawn at once whatever the interval.",
    )
    slot_seconds: float = Field(
        default=10.0,
        gt=0,
        le=60,
        description="Width of the time slots request statistics are kept in: the last-minute "
        "and last-hour windows are whole slots, so they cover up to one slot more than named. "
        "Memory is fixed at one hour of slots, whatever the request rate.",
    )
    recent_requests: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="Finished requests kept, newest first, for `harombe top` and the dashboard.",
    )
    live_interval: float = Field(
        default=1.0,
        gt=0,
        le=2,
        description="Seconds between dashboard updates: a change in the gossip view (a node "
        "dying, load) shows within this; a request finishing here is pushed at once.",
    )
    max_live_clients: int = Field(
        default=32,
        ge=1,
        description="Dashboard event streams served at once; one more gets 503.",
    )
    cluster_stats_timeout: float = Field(
        default=2.0,
        gt=0,
        description="Seconds `/cluster/stats?cluster=1` waits for each peer's statistics; a "
        "peer that does not answer in time is listed as missing.",
    )

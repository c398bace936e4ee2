"""Routing, balancing, failover and admission settings (seconds unless noted)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class RoutingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    classifier: Literal["rules", "llm", "hybrid"] = Field(
        default="rules",
        description="How a request that names no real model gets its tier. rules: the "
        "built-in classifier (well under a millisecond). hybrid: the rules, and when they are "
        "unsure, a question to the fastest tier-0 model (JSON-constrained answer) within "
        "`judge_timeout`. llm: that question for every such request. Both fall back to the "
        "rules on a timeout or a bad answer.",
    )
    judge_timeout: float = Field(
        default=0.3,
        gt=0,
        le=10,
        description="Seconds the tier-0 judge may take before the rules decide alone. Adds up "
        "to this much to a judged request's time to first token.",
    )
    judge_cache_size: int = Field(
        default=4096,
        ge=0,
        description="Judge answers kept, by prompt hash (least recently used dropped first); "
        "a repeated prompt is judged once. Bounds memory at about 150 bytes an entry.",
    )
    prefer_local: bool = Field(
        default=True,
        description="Serve on this node when it is as good a choice as any other (ties in "
        "expected wait go local). Off: the local node competes like any peer.",
    )
    fallback_strategy: Literal["graceful", "strict"] = Field(
        default="graceful",
        description="graceful: when the wanted tier has no usable node, fall back in the seed's "
        "order (simple 0→1→2, medium 1→2→0, complex 2→1→0). strict: only the wanted tier; "
        "answers 503 rather than use a weaker or costlier tier.",
    )
    load_balance: bool = Field(
        default=True,
        description="Spread requests over a tier's nodes by sampling `balancer_choices` of them "
        "and taking the least loaded. Off: always the node with the lowest expected wait "
        "(deterministic, but coordinators with the same stale view pile onto one node).",
    )
    balancer_choices: int = Field(
        default=2,
        ge=1,
        le=8,
        description="Nodes sampled per decision (2 = power of two choices). More samples pick "
        "better with a fresh view but herd more with a stale one; 1 is random assignment.",
    )
    request_timeout: float = Field(
        default=300.0,
        gt=0,
        description="Deadline for a whole answer, retries and queueing included, unless the "
        "request sets its own. Long enough for a big model's long answer.",
    )
    first_token_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Longest wait for one node's first token before trying the next. Must "
        "cover a cold model load; shorter fails over faster from hung nodes.",
    )
    chunk_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Longest silence between two chunks mid-answer before the node counts as "
        "stuck and the answer is continued on another node.",
    )
    max_attempts: int = Field(
        default=3,
        ge=1,
        description="Nodes tried for one answer (first try, retries and mid-stream "
        "continuations together) before the error goes back to the client.",
    )
    queue_timeout: float = Field(
        default=30.0,
        ge=0,
        description="How long a request waits for a free slot when every usable node is at "
        "capacity, before a 503 with Retry-After (never past the request's deadline). 0: "
        "answer 503 at once.",
    )
    max_queue: int = Field(
        default=64,
        ge=0,
        description="Requests waiting for a slot at this node at once; beyond, 503 at once. "
        "Bounds memory and the wait a client can pile up.",
    )
    queue_poll_interval: float = Field(
        default=0.25,
        gt=0,
        description="How often a waiting request re-reads the gossip view for a freed slot "
        "(requests finishing here wake it at once).",
    )
    retry_after: float = Field(
        default=2.0,
        gt=0,
        description="Seconds suggested to clients in Retry-After when the cluster is saturated "
        "or has no usable node.",
    )
    breaker_failure_threshold: int = Field(
        default=3,
        ge=1,
        description="Consecutive failed requests after which a node's circuit opens and it is "
        "skipped. Lower reacts faster to a dying node, higher tolerates flaky ones.",
    )
    breaker_cooldown: float = Field(
        default=10.0,
        gt=0,
        description="Seconds an open circuit waits before letting probe requests through "
        "(half-open). Shorter notices recovery sooner but sends more requests to a dead node.",
    )
    breaker_half_open_probes: int = Field(
        default=1,
        ge=1,
        description="Requests let through at once to a half-open node; one success closes the "
        "circuit, one failure opens it again.",
    )
    view_max_age: float = Field(
        default=0.1,
        gt=0,
        description="Routing re-reads load and RTTs from the gossip view at most this often; "
        "joins and deaths reach it at once. Shorter: fresher load figures, more CPU with many "
        "peers (one re-read is O(peers)).",
    )
    expected_answer_tokens: int = Field(
        default=256,
        gt=0,
        description="Answer length assumed when turning a node's queue into expected wait "
        "(queue × tokens ÷ tokens/s). Only the ranking of nodes depends on it.",
    )
    default_tps: float = Field(
        default=20.0,
        gt=0,
        description="Tokens per second assumed for a node that has not measured any yet.",
    )
    default_ttft: float = Field(
        default=0.5,
        ge=0,
        description="Time to first token assumed for a node that has not measured any yet.",
    )

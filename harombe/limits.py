"""`limits:`: every resource a stranger can make a peer spend, with its bound.

Each field is enforced at the HTTP edge (`harombe/api/guard.py`, `harombe/api/models.py`) or in
the peer websocket transport; docs/security.md lists them with their defaults.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MIB = 1024 * 1024


class LimitsConfig(BaseModel):
    """Bounds on what one client or stranger can make a peer spend (bytes, seconds, counts)."""

    model_config = ConfigDict(extra="forbid")

    max_body_bytes: int = Field(
        default=32 * MIB,
        gt=0,
        description="Largest request body, in bytes. A larger declared Content-Length is "
        "refused with 413 before any of the body is read; a chunked body is cut off at the "
        "limit. 32 MiB holds a few books of prompt.",
    )
    header_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a connection may take to send a request's headers (from connect, "
        "or from the end of the previous response). Slower ones (slowloris) are closed.",
    )
    body_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a client may take to send a whole request body; 32 MiB needs "
        "~9 Mbit/s at this default. Slower bodies get 408.",
    )
    keepalive_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds an idle keep-alive connection stays open between requests.",
    )
    lingering_timeout: float = Field(
        default=10.0,
        ge=0,
        description="Seconds the rest of an unread body is read and dropped after an early "
        "refusal (401, 408, 413, 503), so the client sees the answer rather than a reset; "
        "then the connection is closed. 0 closes at once.",
    )
    max_connections: int = Field(
        default=512,
        ge=1,
        description="Client connections held at once. At the cap, a new connection closes the "
        "longest-idle one (no request in flight); when every one is busy it gets 503. Keep it "
        "well below the process's open-file limit.",
    )
    max_forward_frame_bytes: int = Field(
        default=16 * MIB,
        gt=0,
        description="Largest frame (one chunk) of the answer to a request this peer forwarded "
        "(`/cluster/forward`); a larger declared frame ends that answer as the serving peer's "
        "fault before any of it is read. Peer websocket frames have their own cap, "
        "`cluster.membership.max_frame_bytes`.",
    )
    max_peer_websockets: int = Field(
        default=128,
        ge=1,
        description="Inbound peer websockets held at once (one per peer that dials this one); "
        "beyond it the upgrade gets 503.",
    )
    ws_handshake_timeout: float = Field(
        default=5.0,
        gt=0,
        description="Seconds an inbound peer websocket has to deliver a frame a cluster member "
        "could have sent (valid MAC and label, not replayed); a silent one, or one sending only "
        "other frames, is closed, so strangers cannot park sockets.",
    )
    parse_in_thread_bytes: int = Field(
        default=256 * 1024,
        ge=0,
        description="Request bodies at least this large are parsed and validated in a worker "
        "thread, so a multi-MB prompt does not stall the event loop.",
    )
    drain_timeout: float = Field(
        default=10.0,
        ge=0,
        description="Seconds `harombed` waits, on SIGTERM or SIGINT, for the requests in flight "
        "to finish while refusing new ones (503), before it leaves the cluster and exits; "
        "streams still running then are cut. A second signal stops at once. Keep the service "
        "manager's stop timeout above it (the shipped units allow 20 s).",
    )
    log_interval: float = Field(
        default=60.0,
        gt=0,
        description="Refused or evicted connections are logged as one line per this many "
        "seconds (with a count), never one line each.",
    )

"""The rows of /cluster/status: every member as this peer sees it (state, record, its own
measured RTT, breaker, utilisation), then the plain servers peers sponsor."""

from __future__ import annotations

from typing import Any

from harombe.cluster.membership import MemberView
from harombe.cluster.record import NodeRecord
from harombe.routing.view import excluded_names
from harombe.sponsored import sponsored_status
from harombe.utilisation import UtilisationSampler


def cluster_status(
    members: list[MemberView],
    *,
    now: float,
    breakers: dict[str, str],
    sampler: UtilisationSampler,
) -> list[dict[str, Any]]:
    """`now` on the membership's clock; `breakers` name → state (closed when absent);
    `sampler` is this peer's own utilisation (a peer's comes from its record). A member whose
    own record excludes it is draining (only a draining peer excludes itself)."""
    excluded = excluded_names(members)
    nodes = []
    for m in members:
        rec = m.record
        nodes.append(
            {
                "name": m.name,
                "address": m.address,
                "state": m.state.label,
                "available": m.state.label == "alive" and bool(rec and rec.backend_ok),
                "self": m.is_self,
                "incarnation": m.incarnation,
                "tier": rec.tier if rec else None,
                "models": rec.models if rec else [],
                "loaded": rec.loaded if rec else [],
                "active": rec.active if rec else 0,
                "queue": rec.queue if rec else 0,
                "capacity": rec.capacity if rec else 0,
                "load": round(rec.active / rec.capacity, 3) if rec and rec.capacity else 0.0,
                "tps": rec.tps if rec else {},
                "ttft": rec.ttft if rec else {},
                "backend_ok": rec.backend_ok if rec else False,
                "hardware": rec.hardware if rec else {},
                "version": rec.version if rec else None,
                "rtt_ms": round(m.rtt * 1000, 3) if m.rtt is not None else None,
                "last_update_s": round(now - m.last_update, 3),
                "state_since_s": round(now - m.state_since, 3),
                "breaker": breakers.get(m.name, "closed"),
                "utilisation": _utilisation(sampler, m.is_self, m.state.label, rec),
                "utilisation_age_s": _utilisation_age(sampler, m.is_self, now - m.last_update),
                "excluded": m.name in excluded,
                "draining": bool(rec and m.name in rec.excluded),
            }
        )
    return nodes + sponsored_status(members, excluded, breakers)


def _utilisation(
    sampler: UtilisationSampler, is_self: bool, state: str, rec: NodeRecord | None
) -> dict[str, Any] | None:
    """This node's latest sample; a peer's as gossiped (within the deadband), but none for a
    dead or departed one: its last sample says nothing about it now."""
    sample = sampler.current() if is_self else rec.utilisation if rec else None
    if sample is None or state not in ("alive", "suspect"):
        return None
    return sample.as_dict()


def _utilisation_age(
    sampler: UtilisationSampler, is_self: bool, since_update: float
) -> float | None:
    """How old the shown sample is: exact for this node; for a peer, the time since its
    record last changed (it gossips every change of a quantized sample, and withdraws a
    stale one, so an unchanged sample from a live peer is still current)."""
    age = sampler.age() if is_self else since_update
    return None if age is None else round(age, 3)

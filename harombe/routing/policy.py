"""Which nodes may serve a request, in which order of preference: pure functions.

A request names a real model (only nodes serving it qualify, those with it loaded first) or a
virtual one (`auto`, `tier-N`) or none. For a virtual model the wanted tier is the user's
`prefer_tier`, else N of `tier-N`, else the classifier's; the seed's fallback order then
applies (simple 0→1→2, medium 1→2→0, complex 2→1→0), or only the wanted tier when the
strategy is strict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from harombe.routing.route import VIRTUAL_MODELS

if TYPE_CHECKING:
    from harombe.routing.classifier import Classification
    from harombe.routing.fit import Needs

TIERS = (0, 1, 2)
FALLBACK_ORDER: dict[int, tuple[int, ...]] = {0: (0, 1, 2), 1: (1, 2, 0), 2: (2, 1, 0)}

Strategy = Literal["graceful", "strict"]


@dataclass(frozen=True)
class Group:
    """One step of the preference order: the nodes of a tier, or the nodes serving a model
    (`loaded` True: with it in memory now; False: on disk only)."""

    tier: int | None = None
    model: str | None = None
    loaded: bool = False

    def label(self) -> str:
        if self.tier is not None:
            return f"tier {self.tier}"
        return f"{self.model} ({'loaded' if self.loaded else 'on disk'})"


@dataclass(frozen=True)
class Plan:
    """Which nodes may serve one request, in order: what dispatch tries and `harombe route`
    reports (`Dispatcher.plan`)."""

    groups: tuple[Group, ...]
    wanted_tier: int | None  # the tier asked for or classified; None for a real model
    classified_tier: int | None  # set only when the classifier ran
    model: str | None  # the real model to ask nodes for; None: each node's default
    needs: Needs | None = None  # what the request needs of a node (`fit.fitted` sets it)
    classification: Classification | None = None  # the classifier's reasons, when it ran


def virtual_tier(model: str | None) -> int | None:
    """N for "tier-N"; None for anything else."""
    if model and model.startswith("tier-") and model in VIRTUAL_MODELS:
        return int(model[len("tier-") :])
    return None


def is_virtual(model: str | None) -> bool:
    return not model or model in VIRTUAL_MODELS


def tier_order(tier: int, strategy: Strategy) -> tuple[int, ...]:
    if tier not in FALLBACK_ORDER:
        raise ValueError(f"tier must be one of {TIERS}, got {tier!r}")
    return (tier,) if strategy == "strict" else FALLBACK_ORDER[tier]


def make_plan(
    model: str | None,
    prefer_tier: int | None,
    strategy: Strategy,
    classify: Callable[[], int],
) -> Plan:
    """The preference order for one request. `classify` runs only when nothing else decides
    the tier (no real model, no `prefer_tier`, no `tier-N`)."""
    if not is_virtual(model):
        return Plan(
            groups=(Group(model=model, loaded=True), Group(model=model, loaded=False)),
            wanted_tier=None,
            classified_tier=None,
            model=model,
        )
    classified = None
    tier = prefer_tier if prefer_tier is not None else virtual_tier(model)
    if tier is None:
        tier = classified = classify()
    return Plan(
        groups=tuple(Group(tier=t) for t in tier_order(tier, strategy)),
        wanted_tier=tier,
        classified_tier=classified,
        model=None,
    )

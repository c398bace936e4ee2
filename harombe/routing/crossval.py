"""k-fold cross-validation of the classifier's fitted part, its two task-score cut points.

The lexicon and features are written by hand; what is fitted to data is where the task score
is cut into tiers. Each fold refits the cuts on the other folds (grid search for the most exact
tiers, ties broken towards fewer complex prompts sent to tier 0, then towards the shipped
cuts) and scores the held-out fold with them, so the result is what those cut points do on
prompts they were not fitted on. The lexicon itself saw all of dev: the set written apart
(`heldout.jsonl`) is the honest measure of that.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harombe.routing.classifier import explain
from harombe.routing.classifier.rules import Cuts, tier_for_score
from harombe.routing.devset import Metrics, evaluate, expand_messages

MEDIUM_GRID = tuple(x / 4 for x in range(0, 13))  # 0.0 .. 3.0
COMPLEX_GRID = tuple(x / 4 for x in range(6, 25))  # 1.5 .. 6.0


@dataclass(frozen=True)
class _Scored:
    record: dict[str, Any]
    score: float
    medium_evidence: bool
    context_tier: int


def _tier(s: _Scored, cuts: Cuts) -> int:
    return max(tier_for_score(s.score, s.medium_evidence, cuts), s.context_tier)


def fit_cuts(scored: Sequence[_Scored]) -> Cuts:
    """The cut points that classify `scored` best (see the module docstring)."""
    shipped = Cuts()

    def rank(cuts: Cuts) -> tuple[int, int, float]:
        exact = under = 0
        for s in scored:
            tier, gold = _tier(s, cuts), s.record["tier"]
            exact += tier == gold
            under += gold == 2 and tier == 0
        distance = abs(cuts.medium_at - shipped.medium_at) + abs(
            cuts.complex_at - shipped.complex_at
        )
        return (exact, -under, -distance)

    grid = [Cuts(m, c) for m in MEDIUM_GRID for c in COMPLEX_GRID if c > m]
    return max(grid, key=rank)


def cross_validate(records: Sequence[dict[str, Any]], folds: int = 5, seed: int = 16) -> Metrics:
    """Metrics of the out-of-fold predictions over all of `records`."""
    scored = []
    for r in records:
        f = explain(expand_messages(r)).features
        scored.append(_Scored(r, f["task_score"], f["medium_evidence"], f["context_tier"]))
    order = list(range(len(scored)))
    random.Random(seed).shuffle(order)
    predicted: dict[str, int] = {}
    for k in range(folds):
        test = {i for n, i in enumerate(order) if n % folds == k}
        cuts = fit_cuts([s for i, s in enumerate(scored) if i not in test])
        for i in test:
            predicted[scored[i].record["id"]] = _tier(scored[i], cuts)
    answers = iter([predicted[r["id"]] for r in records])  # evaluate asks once per record, in order
    return evaluate(records, lambda _messages: next(answers))

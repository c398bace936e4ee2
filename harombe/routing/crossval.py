"""k-fold cross-validation of the classifier on a labelled set (normally dev.jsonl).

The classifier is written by hand, not trained, so "fitting on the other folds" means two
things here, both done per fold:

* the lexicon: a signal's pattern is a list of alternatives (phrasings). An alternative that
  matches no prompt of the training folds but does match one of the test fold was, in effect,
  written for that test prompt; it is removed while that fold is scored. What is left is the
  lexicon as it would stand had those prompts never been seen;
* the two task-score cut points: refitted on the training folds by grid search (most exact
  tiers, then fewest complex prompts sent to tier 0, then closest to the shipped cuts).

The held-out fold is then classified with both. This measures how much the rules lean on
phrasings seen only once; a set written apart (`heldout.jsonl`) remains the honest measure.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from harombe.routing.classifier.features import final_turn, role_and_text, split_task
from harombe.routing.classifier.matching import Signal, alternatives, found
from harombe.routing.classifier.rules import LEXICON, Cuts, Lexicon, explain, tier_for_score
from harombe.routing.devset import Metrics, evaluate, expand_messages

MEDIUM_GRID = tuple(x / 4 for x in range(0, 13))  # 0.0 .. 3.0
COMPLEX_GRID = tuple(x / 4 for x in range(6, 25))  # 1.5 .. 6.0


@dataclass(frozen=True)
class _Scored:
    gold: int
    score: float
    medium_evidence: bool
    context_tier: int


def _tier(s: _Scored, cuts: Cuts) -> int:
    return max(tier_for_score(s.score, s.medium_evidence, cuts), s.context_tier)


def fit_cuts(scored: Sequence[_Scored]) -> Cuts:
    """The cut points that classify `scored` best (see the module docstring)."""
    shipped = Cuts()

    def rank(cuts: Cuts) -> tuple[int, int, float]:
        exact = sum(_tier(s, cuts) == s.gold for s in scored)
        under = sum(s.gold == 2 and _tier(s, cuts) == 0 for s in scored)
        distance = abs(cuts.medium_at - shipped.medium_at)
        distance += abs(cuts.complex_at - shipped.complex_at)
        return (exact, -under, -distance)

    return max((Cuts(m, c) for m in MEDIUM_GRID for c in COMPLEX_GRID if c > m), key=rank)


def _score(messages: list[dict[str, Any]], gold: int, lexicon: Lexicon) -> _Scored:
    f = explain(messages, lexicon).features
    return _Scored(gold, f["task_score"], f["medium_evidence"], f["context_tier"])


@dataclass(frozen=True)
class _Phrase:
    """One alternative of one signal, and which records' task text it matches."""

    table: str  # "complex", "medium" or "simple"
    signal: str
    source: str
    matched: frozenset[int]


def _phrases(expanded: Sequence[list[dict[str, Any]]]) -> list[_Phrase]:
    tasks = [split_task(final_turn([role_and_text(m) for m in msgs])) for msgs in expanded]
    asks = [t.ask.lower() for t in tasks]
    closings = [[c.lower() for c in t.closing] for t in tasks]
    phrases = []
    for table in ("complex", "medium", "simple"):
        for signal in getattr(LEXICON, table):
            for source in alternatives(signal.pattern.pattern):
                rx = re.compile(source)
                if table == "simple":
                    hits = {i for i, cs in enumerate(closings) if any(found(rx, c) for c in cs)}
                else:
                    hits = {i for i, a in enumerate(asks) if found(rx, a)}
                phrases.append(_Phrase(table, signal.name, source, frozenset(hits)))
    return phrases


def reduced_lexicon(phrases: Sequence[_Phrase], train: set[int]) -> Lexicon:
    """The lexicon without the alternatives that only records outside `train` match."""
    kept: dict[tuple[str, str], list[str]] = {}
    for p in phrases:
        if p.matched and not p.matched & train:
            continue
        kept.setdefault((p.table, p.signal), []).append(p.source)

    def table(name: str) -> tuple[Signal, ...]:
        out = []
        for s in getattr(LEXICON, name):
            sources = kept.get((name, s.name))
            if sources:
                out.append(replace(s, pattern=re.compile("|".join(sources))))
        return tuple(out)

    return Lexicon(complex=table("complex"), medium=table("medium"), simple=table("simple"))


def cross_validate(records: Sequence[dict[str, Any]], folds: int = 5, seed: int = 16) -> Metrics:
    """Metrics of the out-of-fold predictions over all of `records`."""
    expanded = [expand_messages(r) for r in records]
    phrases = _phrases(expanded)
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    predicted: dict[int, int] = {}
    for k in range(folds):
        test = {i for n, i in enumerate(order) if n % folds == k}
        train = set(order) - test
        lexicon = reduced_lexicon(phrases, train)
        fitted = fit_cuts([_score(expanded[i], records[i]["tier"], lexicon) for i in train])
        for i in test:
            predicted[i] = _tier(_score(expanded[i], records[i]["tier"], lexicon), fitted)
    answers = iter([predicted[i] for i in range(len(records))])  # asked once per record, in order
    return evaluate(records, lambda _messages: next(answers))

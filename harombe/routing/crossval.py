"""Cross-validation of the classifier: how it does on records its weights were not fitted on.

`cross_validate`: the records are shuffled (seeded) into `folds` folds; for each fold the
weights and cut points are fitted afresh (`train.fit`) on the other folds and the fold is
classified with them. `leave_one_set_out`: each labelled set is classified by weights fitted on
the other sets only, which also asks whether the fit carries to another writer's wording.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from harombe.routing.classifier.features import FEATURE_NAMES
from harombe.routing.classifier.model import Model
from harombe.routing.classifier.train import Example, examples, fit
from harombe.routing.devset import Metrics, evaluate


def predict(model: Model, example: Example) -> int:
    """The tier `model` gives a measured record (the floors included)."""
    score = model.score({FEATURE_NAMES[i]: value for i, value in example.features}, example.words)
    return max(model.task_tier(score), example.floor)


def fold_of(n_records: int, folds: int, seed: int) -> list[int]:
    """Each record's fold: a seeded shuffle dealt round-robin."""
    order = list(range(n_records))
    random.Random(seed).shuffle(order)
    fold = [0] * n_records
    for position, index in enumerate(order):
        fold[index] = position % folds
    return fold


def cross_validate(records: Sequence[dict[str, Any]], folds: int = 5, seed: int = 16) -> Metrics:
    """Metrics of the out-of-fold predictions over all of `records`."""
    measured = examples(records)
    fold = fold_of(len(records), folds, seed)
    predicted = [0] * len(records)
    for k in range(folds):
        model = fit([e for e, f in zip(measured, fold, strict=True) if f != k])
        for i, example in enumerate(measured):
            if fold[i] == k:
                predicted[i] = predict(model, example)
    return _scored(records, predicted)


def leave_one_set_out(sets: Mapping[str, Sequence[dict[str, Any]]]) -> dict[str, Metrics]:
    """Each set's metrics under weights fitted on all the other sets."""
    measured = {name: examples(records) for name, records in sets.items()}
    out = {}
    for name, records in sets.items():
        model = fit([e for other, exs in measured.items() if other != name for e in exs])
        out[name] = _scored(records, [predict(model, example) for example in measured[name]])
    return out


def _scored(records: Sequence[dict[str, Any]], predicted: Sequence[int]) -> Metrics:
    """The metrics of `predicted`, one tier per record in order."""
    answers = iter(predicted)  # asked once per record, in order
    return evaluate(records, lambda _messages: next(answers))

"""k-fold cross-validation of the classifier on a labelled set (normally dev.jsonl).

The records are shuffled (seeded) into `folds` folds; for each fold the weights and cut points
are fitted afresh (`train.fit`) on the other folds and the fold is classified with them. The
metrics are those of these out-of-fold predictions over all the records.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from harombe.routing.classifier.features import FEATURE_NAMES
from harombe.routing.classifier.model import Model
from harombe.routing.classifier.train import Example, examples, fit
from harombe.routing.devset import Metrics, evaluate


def predict(model: Model, example: Example) -> int:
    """The tier `model` gives a measured record (the floors included)."""
    score = model.score({FEATURE_NAMES[i]: value for i, value in example.features})
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
    answers = iter(predicted)  # asked once per record, in order
    return evaluate(records, lambda _messages: next(answers))

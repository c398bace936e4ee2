"""Fit the classifier's weights: an ordinal logistic score with two cut points.

    python -m harombe.routing.classifier.train            # fit on the training sets, show
    python -m harombe.routing.classifier.train --write    # ... and rewrite weights.py

The model: score = sum(weight * feature); P(tier >= k) = sigmoid(score - cut_k) for k = 1, 2
("all-threshold" ordinal logistic regression). The loss is the logistic loss of both cuts for
every record, plus an L2 penalty on the weights (`L2`) so no feature gets a large weight from a
few records. A record whose gold tier a floor explains (a trivial question over a long
attachment, by the context rule) says nothing about its score beyond "not above this tier", so
only that part of its loss counts. Errors towards a lower tier cost `UNDER_COST` times more
than towards a higher one: when unsure, the higher tier. Fitted by Newton's method (the loss is
convex; a few dozen iterations), deterministic, plain Python.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harombe.routing.classifier.features import FEATURE_NAMES, FEATURES, measure
from harombe.routing.classifier.model import Model, floor_tier
from harombe.routing.devset import expand_messages, load_records

DATA_DIR = Path(__file__).resolve().parents[3] / "tests" / "data" / "routing"
TRAINING_SETS = (
    *("dev", "sanity", "sanity2", "sanity3", "heldout", "third", "fourth", "fifth", "sixth"),
    *("seventh", "eighth", "ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth"),
    *("fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth", "twentieth"),
    *("twentyfirst", "twentysecond", "twentythird", "twentyfourth", "twentyfifth", "twentysixth"),
    *("twentyseventh", "twentyeighth", "twentyninth", "thirtieth", "thirtyfirst", "thirtysecond"),
    *("thirtythird", "thirtyfourth", "thirtyfifth", "thirtysixth", "thirtyseventh"),
    *("thirtyeighth", "thirtyninth", "fortieth", "fortyfirst", "fortysecond", "fortythird"),
    *("fortyfourth", "fortyfifth", "fortysixth", "fortyseventh", "fortyeighth", "fortyninth"),
    *("fiftieth", "fiftyfirst", "fiftysecond", "fiftythird", "fiftyfourth", "fiftyfifth"),
    *("fiftysixth", "fiftyseventh", "fiftyeighth", "fiftyninth", "sixtieth"),
)
"""The labelled sets the weights are fitted on: dev, and every set written by the rubric since,
each scored unseen once before it joined (docs/routing.md). Never one of `EVALUATION_SETS`."""
EVALUATION_SETS = ("sixtyfirst", "sixtysecond")
"""Written by the rubric by people who never saw the classifier; used only to score it."""
WEIGHTS_FILE = Path(__file__).with_name("weights.py")
L2 = 0.3  # penalty on the squared weights (not on the cut points)
UNDER_COST = 1.1  # weight of a loss term that would route a record too low
MAX_ITERATIONS = 50
TOLERANCE = 1e-9  # stop when a Newton step lowers the loss by less than this
CUT_RIDGE = 1e-6  # keeps the Newton system solvable when a cut is not yet constrained
DECIMALS = 3  # weights and cuts are rounded to this, so weights.py reads easily


@dataclass(frozen=True)
class Example:
    """One record as the trainer sees it: its non-zero features, its gold tier and the tier the
    floors (the pasted-work floor, the context rule) give it whatever its score."""

    features: tuple[tuple[int, float], ...]
    gold: int
    floor: int


def set_path(name: str) -> Path:
    return DATA_DIR / f"{name}.jsonl"


def training_records() -> list[dict[str, Any]]:
    """The records of every training set, in the order of `TRAINING_SETS`."""
    return [record for name in TRAINING_SETS for record in load_records(set_path(name))]


def examples(records: Sequence[dict[str, Any]]) -> list[Example]:
    """Measure every record (filler attached, as the scorer does)."""
    out = []
    for record in records:
        measured = measure(expand_messages(record))
        values = measured.values
        nonzero = tuple((i, values[n]) for i, n in enumerate(FEATURE_NAMES) if values[n])
        out.append(Example(nonzero, int(record["tier"]), floor_tier(measured)))
    return out


def _terms(example: Example) -> list[tuple[int, float]]:
    """(cut index, sign) for each loss term the record informs: +1 "at least tier k+1"."""
    terms = []
    for k in (0, 1):
        above = example.gold >= k + 1
        if above and example.floor >= example.gold:
            continue  # a floor explains the gold tier: the score may be lower
        terms.append((k, 1.0 if above else -1.0))
    return terms


def _loss(params: list[float], data: list[tuple[Example, list[tuple[int, float]]]]) -> float:
    n = len(FEATURE_NAMES)
    total = 0.5 * L2 * sum(w * w for w in params[:n])
    for example, terms in data:
        score = sum(params[i] * v for i, v in example.features)
        for k, sign in terms:
            z = sign * (score - params[n + k])
            cost = UNDER_COST if sign > 0 else 1.0
            total += cost * (math.log1p(math.exp(-z)) if z > -30 else -z)
    return total


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """x with matrix @ x = vector (Gaussian elimination with partial pivoting)."""
    size = len(vector)
    a = [[*row, vector[i]] for i, row in enumerate(matrix)]
    for col in range(size):
        pivot = max(range(col, size), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        for row in range(col + 1, size):
            factor = a[row][col] / a[col][col]
            if factor:
                for j in range(col, size + 1):
                    a[row][j] -= factor * a[col][j]
    x = [0.0] * size
    for row in range(size - 1, -1, -1):
        x[row] = (a[row][size] - sum(a[row][j] * x[j] for j in range(row + 1, size))) / a[row][row]
    return x


def fit(train: Sequence[Example]) -> Model:
    """The model that minimises the regularised loss on `train` (see the module docstring)."""
    n = len(FEATURE_NAMES)
    size = n + 2
    data = [(e, _terms(e)) for e in train]
    params = [0.0] * n + [1.0, 3.0]
    loss = _loss(params, data)
    for _ in range(MAX_ITERATIONS):
        grad = [L2 * w for w in params[:n]] + [0.0, 0.0]
        hess = [[0.0] * size for _ in range(size)]
        for i in range(n):
            hess[i][i] = L2
        for k in (n, n + 1):
            hess[k][k] = CUT_RIDGE
        for example, terms in data:
            score = sum(params[i] * v for i, v in example.features)
            for k, sign in terms:
                z = sign * (score - params[n + k])
                cost = UNDER_COST if sign > 0 else 1.0
                p = 1.0 / (1.0 + math.exp(min(z, 30.0)))  # sigmoid(-z)
                slope, curve = -cost * p * sign, cost * p * (1.0 - p)
                active = [*example.features, (n + k, -1.0)]
                for i, vi in active:
                    grad[i] += slope * vi
                    row = hess[i]
                    for j, vj in active:
                        row[j] += curve * vi * vj
        step = _solve(hess, grad)
        scale = 1.0
        while True:
            trial = [value - scale * delta for value, delta in zip(params, step, strict=True)]
            trial_loss = _loss(trial, data)
            if trial_loss <= loss or scale < 1e-4:
                break
            scale /= 2
        params, improvement, loss = trial, loss - trial_loss, trial_loss
        if improvement < TOLERANCE:
            break
    weights = {name: round(params[i], DECIMALS) for i, name in enumerate(FEATURE_NAMES)}
    return Model(weights, round(params[n], DECIMALS), round(params[n + 1], DECIMALS))


def render(model: Model) -> str:
    """The source of `weights.py` for `model`: one named weight per line."""
    lines = [
        '"""The classifier\'s weights: one per feature, and the two cut points of the score.',
        "",
        "Written by `python -m harombe.routing.classifier.train --write` from the training sets",
        "(`train.TRAINING_SETS`); do not edit by hand. A positive weight pushes towards a higher",
        "tier. Features: `features.py`.",
        '"""',
        "",
        "WEIGHTS = {",
    ]
    for name in FEATURE_NAMES:
        lines.append(f"    # {FEATURES[name]}")
        lines.append(f'    "{name}": {model.weights[name]:.{DECIMALS}f},')
    lines += [
        "}",
        f"MEDIUM_AT = {model.medium_at:.{DECIMALS}f}  # task score from which a request is tier 1",
        f"COMPLEX_AT = {model.complex_at:.{DECIMALS}f}  # ... and tier 2",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        nargs="+",
        help="labelled JSONL files to fit on (default: the training sets)",
    )
    parser.add_argument("--write", action="store_true", help=f"rewrite {WEIGHTS_FILE.name}")
    args = parser.parse_args(argv)
    if args.data:
        records = [record for path in args.data for record in load_records(path)]
    else:
        records = training_records()
    source = render(fit(examples(records)))
    if args.write:
        WEIGHTS_FILE.write_text(source, encoding="utf-8")
        print(f"wrote {WEIGHTS_FILE}")
    else:
        sys.stdout.write(source)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

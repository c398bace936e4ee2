"""Fit the classifier's weights: an ordinal logistic score with two cut points.

    python -m harombe.routing.classifier.train            # fit on the training sets, show
    python -m harombe.routing.classifier.train --write    # ... and rewrite the weight files

The model: score = sum(weight * feature) + sum(weight of each word of the instruction);
P(tier >= k) = sigmoid(score - cut_k) for k = 1, 2 ("all-threshold" ordinal logistic
regression). The loss is the logistic loss of both cuts for every record, plus an L2 penalty on
the weights (`L2` on the features', `WORD_L2` on the words') so no weight grows large from a few
records. Only words that the instructions of `WORD_MIN_SETS` sets or more use are weighed. A
record whose gold tier a floor explains (a trivial question over a long attachment, by the
context rule) says nothing about its score beyond "not above this tier", so only that part of
its loss counts. Errors towards a lower tier cost `UNDER_COST` times more than towards a higher
one: when unsure, the higher tier. The exception is a simple request sent past tier 0, which
costs `SIMPLE_UP_COST`: the small machines are meant to keep the simple work. The loss is
convex; it is minimised by L-BFGS (numpy, which the development install brings),
deterministically. Scoring needs none of this: stdlib only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harombe.routing.classifier.features import FEATURE_NAMES, FEATURES, measure
from harombe.routing.classifier.model import Model, floor_tier
from harombe.routing.classifier.wording import WORD_WEIGHTS_FILE
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
    *("fiftysixth", "fiftyseventh", "fiftyeighth", "fiftyninth", "sixtieth", "sixtyfirst"),
    *("sixtysecond", "sixtythird", "sixtyfourth", "sixtyfifth", "sixtysixth", "sixtyseventh"),
    *("sixtyeighth", "sixtyninth", "seventieth", "seventyfirst", "seventysecond"),
    *("seventythird", "seventyfourth", "seventyfifth", "seventysixth", "seventyseventh"),
    *("seventyeighth", "seventyninth", "eightieth", "eightyfirst", "eightysecond"),
    *("eightythird", "eightyfourth", "eightyfifth", "eightysixth", "eightyseventh"),
    *("eightyeighth", "eightyninth", "ninetieth", "ninetyfirst", "ninetysecond"),
    *("ninetythird", "ninetyfourth", "ninetyfifth", "ninetysixth", "ninetyseventh"),
    *("ninetyeighth", "ninetyninth", "hundredth", "hundredfirst", "hundredsecond"),
    *("hundredthird", "hundredfourth", "hundredfifth", "hundredsixth", "hundredseventh"),
    *("hundredeighth", "hundredninth", "hundredtenth", "hundredeleventh", "hundredtwelfth"),
    *("hundredthirteenth", "hundredfourteenth"),
)
"""The labelled sets the weights are fitted on: dev, and every set written by the rubric since,
each scored unseen once before it joined (docs/routing.md). Never one of `EVALUATION_SETS`."""
EVALUATION_SETS = ("hundredfifteenth", "hundredsixteenth")
"""Written by the rubric by people who never saw the classifier; used only to score it."""
WEIGHTS_FILE = Path(__file__).with_name("weights.py")
L2 = 0.3  # penalty on the squared feature weights (not on the cut points)
WORD_L2 = 6.0  # ... on the squared word weights: one word moves the score less than a feature
WORD_MIN_SETS = 30
"""A word is weighed only when the instructions of at least this many sets use it (sets whose
ids share a prefix count as one): phrasing that many writers share, not one writer's topics."""
UNDER_COST = 1.1  # weight of a loss term that would route a record too low
SIMPLE_UP_COST = 1.4  # ... that would route a simple record past tier 0
MAX_ITERATIONS = 2000
GRADIENT_TOLERANCE = 1e-5  # stop when no partial derivative of the loss is larger than this
MEMORY = 10  # the L-BFGS steps remembered
DECIMALS = 3  # weights and cuts are rounded to this, so weights.py reads easily


@dataclass(frozen=True)
class Example:
    """One record as the trainer sees it: its non-zero features, its gold tier and the tier the
    floors (the pasted-work floor, the context rule) give it whatever its score."""

    features: tuple[tuple[int, float], ...]
    gold: int
    floor: int
    words: frozenset[str] = frozenset()  # the instruction's words (`wording.words`)
    source: str = ""  # the set it comes from: the prefix of its id ("d" of "d-0051")


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
        source = str(record["id"]).rpartition("-")[0]
        out.append(
            Example(nonzero, int(record["tier"]), floor_tier(measured), measured.words, source)
        )
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


def vocabulary(train: Sequence[Example]) -> list[str]:
    """The words that the instructions of `WORD_MIN_SETS` sets or more use, sorted."""
    sources: defaultdict[str, set[str]] = defaultdict(set)
    for example in train:
        for word in example.words:
            sources[word].add(example.source)
    return sorted(word for word, seen in sources.items() if len(seen) >= WORD_MIN_SETS)


class _Loss:
    """The regularised loss of the module docstring and its gradient, for a parameter vector
    of the feature weights, then the word weights, then the two cut points."""

    def __init__(self, train: Sequence[Example], words: Sequence[str]) -> None:
        index = {word: i for i, word in enumerate(words, start=len(FEATURE_NAMES))}
        rows, cols, values = [], [], []
        term_rows, term_cuts, term_signs = [], [], []
        for r, example in enumerate(train):
            weighed = sorted(index[w] for w in example.words if w in index)  # hash order varies
            entries = [*example.features, *((col, 1.0) for col in weighed)]
            for col, value in entries:
                rows.append(r)
                cols.append(col)
                values.append(value)
            for k, sign in _terms(example):
                term_rows.append(r)
                term_cuts.append(k)
                term_signs.append(sign)
        self.weights = len(FEATURE_NAMES) + len(words)
        self.records = len(train)
        self.rows, self.cols = np.array(rows, dtype=np.intp), np.array(cols, dtype=np.intp)
        self.values = np.array(values, dtype=float)
        self.term_rows = np.array(term_rows, dtype=np.intp)
        self.term_cuts = np.array(term_cuts, dtype=np.intp)
        self.signs = np.array(term_signs, dtype=float)
        self.costs = np.where(self.signs > 0, UNDER_COST, 1.0)
        self.costs[(self.term_cuts == 0) & (self.signs < 0)] = SIMPLE_UP_COST
        self.penalty = np.r_[np.full(len(FEATURE_NAMES), L2), np.full(len(words), WORD_L2)]

    def __call__(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        n = self.weights
        weights = params[:n]
        scores = np.bincount(self.rows, self.values * weights[self.cols], self.records)
        z = self.signs * (scores[self.term_rows] - params[n + self.term_cuts])
        loss = 0.5 * _dot(self.penalty, weights * weights)
        loss += _dot(self.costs, np.logaddexp(0.0, -z))
        slopes = -self.costs * self.signs / (1.0 + np.exp(np.minimum(z, 30.0)))
        per_record = np.bincount(self.term_rows, slopes, self.records)
        grad = np.empty_like(params)
        grad[:n] = np.bincount(self.cols, self.values * per_record[self.rows], n)
        grad[:n] += self.penalty * weights
        grad[n:] = -np.bincount(self.term_cuts, slopes, 2)
        return loss, grad


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """a · b by numpy's own summation: the same bits on every machine, unlike a BLAS call."""
    return float((a * b).sum())


def _minimise(
    loss_of: Callable[[np.ndarray], tuple[float, np.ndarray]], params: np.ndarray
) -> np.ndarray:
    """L-BFGS with a backtracking (Armijo) line search, until `GRADIENT_TOLERANCE`."""
    loss, grad = loss_of(params)
    steps: list[tuple[np.ndarray, np.ndarray, float]] = []  # (s, y, 1 / y.s)
    for _ in range(MAX_ITERATIONS):
        if not grad.size or np.abs(grad).max() < GRADIENT_TOLERANCE:
            break
        direction = -grad
        alphas = []
        for s, y, rho in reversed(steps):
            alpha = rho * _dot(s, direction)
            direction = direction - alpha * y
            alphas.append(alpha)
        if steps:
            s, y, _ = steps[-1]
            direction = direction * (_dot(s, y) / _dot(y, y))
        for (s, y, rho), alpha in zip(steps, reversed(alphas), strict=True):
            direction = direction + (alpha - rho * _dot(y, direction)) * s
        slope = _dot(grad, direction)
        step = 1.0 if steps else 1.0 / float(np.abs(grad).max())
        while True:
            trial = params + step * direction
            trial_loss, trial_grad = loss_of(trial)
            if trial_loss <= loss + 1e-4 * step * slope:
                break
            step /= 2
            if step < 1e-12:  # no lower loss along the way: as close as floating point gets
                return params
        s, y = trial - params, trial_grad - grad
        if (sy := _dot(s, y)) > 1e-12:
            steps = [*steps[-(MEMORY - 1) :], (s, y, 1.0 / sy)]
        params, loss, grad = trial, trial_loss, trial_grad
    return params


def fit(train: Sequence[Example]) -> Model:
    """The model that minimises the regularised loss on `train` (see the module docstring)."""
    words = vocabulary(train)
    loss = _Loss(train, words)
    n = loss.weights
    params = _minimise(loss, np.r_[np.zeros(n), 1.0, 3.0])
    rounded = [round(float(value), DECIMALS) for value in params]
    weights = dict(zip(FEATURE_NAMES, rounded, strict=False))
    word_weights = {
        word: weight
        for word, weight in zip(words, rounded[len(FEATURE_NAMES) : n], strict=True)
        if weight
    }
    return Model(weights, rounded[n], rounded[n + 1], word_weights)


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


def render_words(model: Model) -> str:
    """The text of `word_weights.json` for `model`: one word per line, sorted."""
    return json.dumps(dict(sorted(model.word_weights.items())), ensure_ascii=False, indent=0) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        nargs="+",
        help="labelled JSONL files to fit on (default: the training sets)",
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help=f"rewrite {WEIGHTS_FILE.name} and {WORD_WEIGHTS_FILE.name}",
    )
    args = parser.parse_args(argv)
    if args.data:
        records = [record for path in args.data for record in load_records(path)]
    else:
        records = training_records()
    model = fit(examples(records))
    if args.write:
        WEIGHTS_FILE.write_text(render(model), encoding="utf-8")
        WORD_WEIGHTS_FILE.write_text(render_words(model), encoding="utf-8")
        print(
            f"wrote {WEIGHTS_FILE} and {WORD_WEIGHTS_FILE.name} ({len(model.word_weights)} words)"
        )
    else:
        sys.stdout.write(render(model))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

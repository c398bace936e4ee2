"""The score, the two cut points, the context rule, `explain` and `classify`.

The task score is a weighted sum of the features (`features.FEATURES`), one weight each, plus
the weights of the instruction's words (`wording`), all fitted together by `train` and written to
`weights.py` and `word_weights.json`. Two cut points turn it into a task tier (ties go to the
higher tier); a piece of work asked of a pasted text is at least tier 1 (`task_floor`). The
context rule then raises the tier by the estimated size of the whole conversation
(characters / 4): above 2,000 tokens at least tier 1, above 8,000 tier 2.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harombe.routing.classifier import weights
from harombe.routing.classifier.features import Measured, measure
from harombe.routing.classifier.wording import load_word_weights, wording_score

SIMPLE, MEDIUM, COMPLEX = 0, 1, 2
CONTEXT_TIER_LIMITS = (2000, 8000)  # estimated tokens up to which context tier 0, 1 applies
UNSURE_MARGIN = 1.0
"""A task score this close to a cut is a guess: `features["unsure"]` says so (the hybrid
classifier then asks a small model)."""
REASONS_SHOWN = 4  # the features that moved the score most, in `explain`'s reasons
WORDS_SHOWN = 3  # the words that moved the score most, in `explain`'s reasons


@dataclass(frozen=True)
class Model:
    """One weight per feature, one per word of the vocabulary, and the two cut points."""

    weights: Mapping[str, float]
    medium_at: float
    complex_at: float
    word_weights: Mapping[str, float] = field(default_factory=dict)

    def score(self, values: Mapping[str, float], words: frozenset[str] = frozenset()) -> float:
        features = sum(self.weights.get(name, 0.0) * value for name, value in values.items())
        return features + wording_score(words, self.word_weights)

    def task_tier(self, score: float) -> int:
        return (
            COMPLEX if score >= self.complex_at else MEDIUM if score >= self.medium_at else SIMPLE
        )


MODEL = Model(weights.WEIGHTS, weights.MEDIUM_AT, weights.COMPLEX_AT, load_word_weights())


@dataclass
class Classification:
    """A routing decision: the tier, the features it was based on, and why, in words."""

    tier: int
    features: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)


def tier_of_context(tokens: float) -> int:
    low, high = CONTEXT_TIER_LIMITS
    return SIMPLE if tokens <= low else MEDIUM if tokens <= high else COMPLEX


def task_floor(values: Mapping[str, float]) -> int:
    """The rubric's one floor on the task: a piece of work asked of a pasted text (summarise,
    analyse, rewrite it) is at least tier 1, whatever the score; a lookup question over it is
    not a piece of work."""
    return MEDIUM if values.get("pasted_task") and not values.get("lookup_question") else SIMPLE


def floor_tier(measured: Measured) -> int:
    """The lowest tier the floors allow: the task floor and the context rule."""
    return max(task_floor(measured.values), tier_of_context(measured.est_tokens))


def _reasons(measured: Measured, model: Model, score: float, context_tier: int) -> list[str]:
    """The score against the cuts, then the features that moved it most."""
    cuts = f"tier 1 from {model.medium_at:g}, tier 2 from {model.complex_at:g}"
    reasons = [f"task score {score:.2f} ({cuts})"]
    contributions = sorted(
        ((model.weights.get(n, 0.0) * v, n) for n, v in measured.values.items() if v),
        key=lambda c: -abs(c[0]),
    )
    reasons += [
        f"{name} = {measured.values[name]:.3g} ({part:+.2f})"
        for part, name in contributions[:REASONS_SHOWN]
        if abs(part) >= 0.05
    ]
    said = sorted(
        ((model.word_weights[w], w) for w in measured.words & model.word_weights.keys()),
        key=lambda part: -abs(part[0]),
    )
    if said:
        shown = ", ".join(f"{w!r} {part:+.2f}" for part, w in said[:WORDS_SHOWN])
        reasons.append(f"wording {sum(part for part, _ in said):+.2f} ({shown})")
    if task_floor(measured.values) and model.task_tier(score) < MEDIUM:
        reasons.append("a piece of work asked of a pasted text: at least tier 1")
    if context_tier:
        reasons.append(
            f"about {int(measured.est_tokens):,} tokens of input (context tier {context_tier})"
        )
    return reasons


def explain(messages: Any, model: Model = MODEL) -> Classification:
    """Classify `messages` and say why: the tier, the features seen and short reasons."""
    measured = measure(messages)
    context_tier = tier_of_context(measured.est_tokens)
    score = model.score(measured.values, measured.words)
    task_tier = max(model.task_tier(score), task_floor(measured.values))
    unsure = context_tier < COMPLEX and any(
        abs(score - cut) < UNSURE_MARGIN for cut in (model.medium_at, model.complex_at)
    )
    task = measured.task
    features = {
        "est_tokens": round(measured.est_tokens),
        "context_tier": context_tier,
        "task_tier": task_tier,
        "task_score": round(score, 2),
        "unsure": unsure,
        "ask_words": task.ask_words,
        "payload_words": task.payload_words,
        "has_code": bool(task.code_blocks or task.code_lines or task.inline_code),
        "has_attachment": task.has_attachment,
        "turns": measured.turns,
        "language": measured.language,
        "measures": {name: value for name, value in measured.values.items() if value},
    }
    return Classification(
        tier=max(task_tier, context_tier),
        features=features,
        reasons=_reasons(measured, model, score, context_tier),
    )


def classify(messages: Any) -> int:
    """Tier 0 (simple), 1 (medium) or 2 (complex) for a chat; see the module docstring."""
    return explain(messages).tier

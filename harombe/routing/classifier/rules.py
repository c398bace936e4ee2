"""The rules: task signals and features combined into a score, the score into a tier.

Medium signals add half their weight (capped), complex ones their full weight, simple ones
subtract; the shape of the ask (listed requirements, constraints, maths, code) adds more. The
context rule then raises the tier by the estimated size of the whole conversation
(characters / 4): above 2,000 tokens at least tier 1, above 8,000 tier 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harombe.routing.classifier.features import (
    CHARS_PER_TOKEN,
    COMPLEX,
    LANG_HINTS,
    MEDIUM,
    SIMPLE,
    TECH_RE,
    final_turn,
    is_word_problem,
    n_words,
    role_and_text,
    split_task,
    structure_score,
    tier_of_context,
)
from harombe.routing.classifier.lexicon import MEDIUM_SIGNALS, SIMPLE_SIGNALS
from harombe.routing.classifier.lexicon_complex import COMPLEX_SIGNALS
from harombe.routing.classifier.matching import Signal, matches, prepare

COMPLEX_AT = 3.0  # task score from which a request is complex
MEDIUM_AT = 1.0  # ... and from which it is medium
MEDIUM_CAP = 3.0  # medium signals add at most half this: many of them still make a medium task
UNSURE_MARGIN = 0.5
"""A task score this close to a cut is a guess: `features["unsure"]` says so (the hybrid
classifier then asks a small model), and ties go to the higher tier."""


@dataclass(frozen=True)
class Cuts:
    """The two task-score cut points: the only numbers fitted to data (see `crossval`)."""

    medium_at: float = MEDIUM_AT
    complex_at: float = COMPLEX_AT


def tier_for_score(score: float, medium_evidence: bool, cuts: Cuts = Cuts()) -> int:
    """The task tier of a score; `medium_evidence`: medium signals outweigh simple ones."""
    if score >= cuts.complex_at:
        return COMPLEX
    if score >= cuts.medium_at or medium_evidence:
        return MEDIUM
    return SIMPLE


@dataclass(frozen=True)
class Lexicon:
    """The signal tables `explain` reads (cross-validation swaps in reduced ones)."""

    complex: tuple[Signal, ...] = COMPLEX_SIGNALS
    medium: tuple[Signal, ...] = MEDIUM_SIGNALS
    simple: tuple[Signal, ...] = SIMPLE_SIGNALS


LEXICON = Lexicon()


@dataclass
class Classification:
    """A routing decision: the tier, the features it was based on, and why, in words."""

    tier: int
    features: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)


def explain(messages: Any, lexicon: Lexicon = LEXICON) -> Classification:
    """Classify `messages` and say why: the tier, the features seen and short reasons."""
    turns = [role_and_text(m) for m in (messages or [])]
    tokens = sum(len(text) for _, text in turns) / CHARS_PER_TOKEN
    context_tier = tier_of_context(tokens)
    task = split_task(final_turn(turns))

    ask = prepare([task.ask])
    complex_hits = matches(lexicon.complex, ask)
    medium_hits = matches(lexicon.medium, ask)
    simple_hits = matches(lexicon.simple, prepare(task.closing))
    if task.code_lines:  # a question about a real snippet is no lookup
        simple_hits = [s for s in simple_hits if s.name != "lookup"]
    if any(s.weight >= COMPLEX_AT for s in complex_hits):  # "quick question: prove ..."
        simple_hits = [s for s in simple_hits if s.name == "definition"]
    if not (task.has_code or TECH_RE.search(task.ask.lower())):  # "error" in prose is no bug
        medium_hits = [s for s in medium_hits if s.name != "bug_report"]
    names = {s.name for s in complex_hits + medium_hits + simple_hits}
    reasons = [s.reason for s in complex_hits + medium_hits + simple_hits]

    generative = bool(complex_hits) or bool(names & {"write", "plan", "design_verb"})
    medium_score = sum(s.weight for s in medium_hits)
    simple_score = sum(s.weight for s in simple_hits)
    score = sum(s.weight for s in complex_hits) + 0.5 * min(medium_score, MEDIUM_CAP)
    score += simple_score
    score += structure_score(task, generative, reasons)
    if task.has_code and "trivial_code" not in names and task.code_lines:
        score += 1.0
        reasons.append("contains code")
    if is_word_problem(task):
        score += 1.5 - min(0.0, simple_score)
        reasons.append("word problem with several quantities")
    if task.payload_words >= 60 and medium_hits:
        score += 0.5

    medium_evidence = bool(medium_hits) and medium_score + simple_score > 0
    task_tier = tier_for_score(score, medium_evidence)
    tier = max(task_tier, context_tier)
    unsure = context_tier < COMPLEX and any(
        abs(score - cut) < UNSURE_MARGIN for cut in (MEDIUM_AT, COMPLEX_AT)
    )

    if context_tier:
        reasons.append(f"about {int(tokens):,} tokens of input (context tier {context_tier})")
    if not reasons:
        reasons.append("short request with no sign of a harder task")
    features = {
        "est_tokens": round(tokens),
        "context_tier": context_tier,
        "task_tier": task_tier,
        "task_score": round(score, 2),
        "medium_evidence": medium_evidence,
        "unsure": unsure,
        "signals": sorted(names),
        "ask_words": n_words(task.ask),
        "payload_words": task.payload_words,
        "has_code": task.has_code,
        "has_attachment": task.has_attachment,
        "turns": len(turns),
        "language": next((name for name, rx in LANG_HINTS if rx.search(task.ask)), "en"),
    }
    return Classification(tier=tier, features=features, reasons=reasons)


def classify(messages: Any) -> int:
    """Tier 0 (simple), 1 (medium) or 2 (complex) for a chat; see the module docstring."""
    return explain(messages).tier

"""Routing evaluation sets: loading, the deterministic filler document, and scoring.

The file format and the filler rule are specified in `tests/data/routing/README.md`; this module
follows that text exactly so that numbers measured here match the maintainers' scorer.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILLER_VOCAB = (
    "lorem ipsum dolor sit amet elit sed do et ut in ad est non vel qui "
    "nam per cum pro sub quo eos iam enim quis duis aute esse sunt nisi odio "
    "nunc erat ante urna diam leo id at ex nec "
    "purus magna culpa velit nulla irure minim tempor labore dolore aliqua "
    "veniam fugiat mollit cillum officia anim sint tellus mauris varius lectus"
).split()
DOC_OPEN = "<attached_document>\n"
DOC_CLOSE = "\n</attached_document>\n\n"
TIERS = (0, 1, 2)

_MOD = 2**31


def make_filler(record_id: str, n_words: int) -> str:
    """`n_words` of lorem-like text seeded by the record id (README section 5)."""
    if n_words <= 0:
        return ""
    state = int(hashlib.sha256(record_id.encode("utf-8")).hexdigest()[:8], 16) % _MOD
    parts: list[str] = []
    for i in range(n_words):
        state = (1103515245 * state + 12345) % _MOD
        word = FILLER_VOCAB[(state >> 16) % 64]
        if i % 12 == 0:
            word = word[0].upper() + word[1:]
        if i % 12 == 11 or i == n_words - 1:
            word += "."
        parts.append(word)
        if i < n_words - 1:
            parts.append("\n\n" if (i + 1) % 120 == 0 else " ")
    return "".join(parts)


def expand_messages(record: dict[str, Any]) -> list[dict[str, Any]]:
    """A deep copy of the record's messages with its filler attached to the last user turn."""
    messages = copy.deepcopy(record["messages"])
    n = int(record.get("filler_words") or 0)
    if n > 0:
        last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
        doc = make_filler(record["id"], n)
        messages[last_user]["content"] = DOC_OPEN + doc + DOC_CLOSE + messages[last_user]["content"]
    return messages


def load_records(path: str | Path) -> list[dict[str, Any]]:
    """Records of a routing JSONL file; a malformed line raises ValueError naming it."""
    records = []
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{line_no}: bad JSON: {e}") from e
            if not isinstance(record.get("messages"), list) or record.get("tier") not in TIERS:
                raise ValueError(f"{path}:{line_no}: needs 'messages' (list) and 'tier' (0-2)")
            records.append(record)
    return records


@dataclass
class Metrics:
    """Scores of one router on one set (README section 7); tiers index the lists."""

    n: int
    accuracy: float
    support: list[int]
    recall: list[float | None]
    precision: list[float | None]
    confusion: list[list[int]]  # rows gold 0..2, columns predicted 0, 1, 2, invalid
    simple_recall: float | None
    under_routing_2_to_0: float | None
    under_routing_any: float
    over_routing_any: float
    invalid: int
    mean_us: float  # mean wall time of one classify call, microseconds
    misses: list[tuple[str, int, int | None]]  # (record id, gold, predicted)


def _predict(classify: Callable[[list[dict[str, Any]]], Any], messages: list) -> int | None:
    try:
        tier = int(classify(messages))
    except Exception:  # any failure of the router is an invalid prediction, by definition
        return None
    return tier if tier in TIERS else None


def evaluate(
    records: Iterable[dict[str, Any]], classify: Callable[[list[dict[str, Any]]], Any]
) -> Metrics:
    """Run `classify` on every record (filler attached) and compute the README's metrics."""
    confusion = [[0, 0, 0, 0] for _ in TIERS]
    misses: list[tuple[str, int, int | None]] = []
    elapsed_ns = 0
    n = 0
    for record in records:
        messages = expand_messages(record)
        start = time.perf_counter_ns()
        predicted = _predict(classify, messages)
        elapsed_ns += time.perf_counter_ns() - start
        gold = int(record["tier"])
        confusion[gold][3 if predicted is None else predicted] += 1
        if predicted != gold:
            misses.append((str(record.get("id")), gold, predicted))
        n += 1
    support = [sum(row) for row in confusion]
    predicted_counts = [sum(confusion[g][t] for g in TIERS) for t in TIERS]
    recall = [confusion[t][t] / support[t] if support[t] else None for t in TIERS]
    precision = [
        confusion[t][t] / predicted_counts[t] if predicted_counts[t] else None for t in TIERS
    ]
    under = sum(confusion[g][p] for g in TIERS for p in TIERS if p < g)
    over = sum(confusion[g][p] for g in TIERS for p in TIERS if p > g)
    return Metrics(
        n=n,
        accuracy=sum(confusion[t][t] for t in TIERS) / n if n else 0.0,
        support=support,
        recall=recall,
        precision=precision,
        confusion=confusion,
        simple_recall=recall[0],
        under_routing_2_to_0=confusion[2][0] / support[2] if support[2] else None,
        under_routing_any=under / n if n else 0.0,
        over_routing_any=over / n if n else 0.0,
        invalid=sum(row[3] for row in confusion),
        mean_us=elapsed_ns / n / 1000 if n else 0.0,
        misses=misses,
    )


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def format_report(metrics: Metrics, title: str = "Query classifier") -> str:
    """A markdown block with the headline metrics and the 3x3 confusion matrix."""
    m = metrics
    lines = [
        f"### {title}",
        "",
        f"{m.n} records (gold tiers 0/1/2: {m.support[0]}/{m.support[1]}/{m.support[2]})",
        "",
        "| metric | value |",
        "|---|---|",
        f"| exact tier accuracy | {_pct(m.accuracy)} |",
    ]
    lines += [
        f"| tier {t} recall / precision | {_pct(m.recall[t])} / {_pct(m.precision[t])} |"
        for t in TIERS
    ]
    lines += [
        f"| simple-recall (0 -> 0) | {_pct(m.simple_recall)} |",
        f"| under-routing (2 -> 0) | {_pct(m.under_routing_2_to_0)} |",
        f"| any under-routing / over-routing | {_pct(m.under_routing_any)} / "
        f"{_pct(m.over_routing_any)} |",
        f"| invalid predictions | {m.invalid} |",
        f"| mean time per query | {m.mean_us:.1f} µs |",
        "",
        "| gold \\ pred | 0 | 1 | 2 |" + (" invalid |" if m.invalid else ""),
        "|---|---|---|---|" + ("---|" if m.invalid else ""),
    ]
    for t in TIERS:
        row = m.confusion[t]
        cells = " | ".join(str(c) for c in row[:3]) + (f" | {row[3]}" if m.invalid else "")
        lines.append(f"| {t} | {cells} |")
    return "\n".join(lines)

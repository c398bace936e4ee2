"""The classifier's accuracy on each evaluation set and its cost by prompt size.

Accuracy: the routing sets in `tests/data/routing/` scored with the README's metrics: dev (the
weights were fitted on it), 5-fold cross-validation on dev (weights refitted without each
fold), and the sets written apart from it and never used for fitting (held-out, third,
fourth, fifth).
Cost: wall time of `classify` on one user turn of pasted prose from 1 KB to 4 MB (the dev
set's own texts repeated), mean and worst of several runs: the bounded sample keeps very long
inputs at a fixed cost.
"""

from __future__ import annotations

import time
from pathlib import Path

from harombe.routing.classifier import classify
from harombe.routing.crossval import cross_validate
from harombe.routing.devset import evaluate, format_report, load_records

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "routing"
SIZES = (1_024, 8_192, 65_536, 1_048_576, 4_194_304)
QUESTION = "\n\nSummarize the text above and critique its main argument."


def prose(size: int) -> str:
    """`size` characters of the dev set's own prompts, as paragraphs, then a real task."""
    texts = [
        str(m.get("content", "")) for r in load_records(DATA / "dev.jsonl") for m in r["messages"]
    ]
    corpus = "\n\n".join(texts)
    body = (corpus * (size // len(corpus) + 1))[: max(0, size - len(QUESTION))]
    return body + QUESTION


def cost_table(runs: int) -> list[str]:
    """Wall and CPU time per call by size (CPU is steadier on a shared machine)."""
    rows = [
        "| prompt size | mean wall | worst wall | mean CPU | tier |",
        "|---|---|---|---|---|",
    ]
    for size in SIZES:
        messages = [{"role": "user", "content": prose(size)}]
        tier = classify(messages)  # warm-up
        walls = []
        cpu_started = time.process_time()
        for _ in range(runs):
            started = time.perf_counter()
            classify(messages)
            walls.append(time.perf_counter() - started)
        cpu = (time.process_time() - cpu_started) / runs
        rows.append(
            f"| {size / 1024:,.0f} KiB | {1000 * sum(walls) / runs:.3f} ms | "
            f"{1000 * max(walls):.3f} ms | {1000 * cpu:.3f} ms | {tier} |"
        )
    return rows


def run_classifier_bench(quick: bool) -> str:
    out = []
    sets = (
        ("dev.jsonl", "dev set"),
        ("heldout.jsonl", "held-out set"),
        ("third.jsonl", "third set"),
        ("fourth.jsonl", "fourth set"),
        ("fifth.jsonl", "fifth set"),
    )
    for name, title in sets:
        out += [
            format_report(
                evaluate(load_records(DATA / name), classify), f"Query classifier ({title})"
            ),
            "",
        ]
    out += [
        format_report(
            cross_validate(load_records(DATA / "dev.jsonl"), folds=5),
            "Query classifier (5-fold cross-validation on dev)",
        ),
        "",
    ]
    out += ["### Query classifier cost by prompt size", "", *cost_table(3 if quick else 20)]
    return "\n".join(out)

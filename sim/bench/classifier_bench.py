"""The classifier's accuracy on each labelled set and its cost by prompt size.

Accuracy: the routing sets in `tests/data/routing/` scored with the README's metrics. The
weights are fitted on the training sets (`train.TRAINING_SETS`), so their own scores show the
fit; what it does on unseen prompts shows in 5-fold cross-validation over the training sets,
in each set scored by weights fitted on the others (leave one set out), and on the evaluation
sets (`train.EVALUATION_SETS`), written by people who never saw the classifier, never fitted.
Cost: wall time of `classify` on one user turn of pasted prose from 1 KB to 4 MB (the dev
set's own texts repeated), mean and worst of several runs: the bounded sample keeps very long
inputs at a fixed cost.
"""

from __future__ import annotations

import time

from harombe.routing.classifier import classify
from harombe.routing.classifier.cues import forget_scans
from harombe.routing.classifier.train import EVALUATION_SETS, TRAINING_SETS, set_path
from harombe.routing.crossval import cross_validate, leave_one_set_out
from harombe.routing.devset import Metrics, evaluate, format_report, load_records

SIZES = (1_024, 8_192, 65_536, 1_048_576, 4_194_304)
QUESTION = "\n\nSummarize the text above and critique its main argument."


def prose(size: int) -> str:
    """`size` characters of the dev set's own prompts, as paragraphs, then a real task."""
    texts = [
        str(m.get("content", "")) for r in load_records(set_path("dev")) for m in r["messages"]
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
        walls, cpu = [], 0.0
        for _ in range(runs):
            forget_scans()  # every run reads the prompt afresh, as a new request would
            cpu_started, started = time.process_time(), time.perf_counter()
            classify(messages)
            walls.append(time.perf_counter() - started)
            cpu += (time.process_time() - cpu_started) / runs
        rows.append(
            f"| {size / 1024:,.0f} KiB | {1000 * sum(walls) / runs:.3f} ms | "
            f"{1000 * max(walls):.3f} ms | {1000 * cpu:.3f} ms | {tier} |"
        )
    return rows


def _row(label: str, m: Metrics) -> str:
    exact, kept, low = (
        f"{100 * v:.1f} %"
        for v in (m.accuracy, m.simple_recall or 0.0, m.under_routing_2_to_0 or 0.0)
    )
    return f"| {label} | {m.n} | {exact} | {kept} | {low} |"


def dev_reports(fitted: Metrics, held_out: Metrics | None) -> list[str]:
    """The dev set, the first one labelled: by the shipped weights and, unless quick, left out."""
    reports = [(fitted, "Query classifier (dev, training: the shipped weights)")]
    if held_out is not None:
        reports.append((held_out, "Query classifier (dev, fitted on the other sets)"))
    return [line for m, title in reports for line in (format_report(m, title), "")]


def run_classifier_bench(quick: bool) -> str:
    sets = {name: load_records(set_path(name)) for name in TRAINING_SETS}
    fitted = {name: evaluate(records, classify) for name, records in sets.items()}
    held_out = {} if quick else leave_one_set_out(sets)  # a fit per set: minutes
    pooled = cross_validate([record for records in sets.values() for record in records], folds=5)
    unseen = {name: load_records(set_path(name)) for name in EVALUATION_SETS}
    evaluations = {name: evaluate(records, classify) for name, records in unseen.items()}
    both = " and ".join(EVALUATION_SETS)
    evaluation = evaluate([r for records in unseen.values() for r in records], classify)
    out = [
        "### Query classifier: exact / simple kept on tier 0 / complex sent to tier 0",
        "",
        "| set | records | exact | simple kept | complex → tier 0 |",
        "|---|---|---|---|---|",
        _row(f"**{both}, pooled (evaluation only, never fitted)**", evaluation),
        *(_row(f"{name} (evaluation only)", m) for name, m in evaluations.items()),
        _row("5-fold cross-validation over the training sets", pooled),
        *(_row(f"{name}, fitted on the other sets", m) for name, m in held_out.items()),
        *(_row(f"{name} (training)", m) for name, m in fitted.items()),
        "",
        format_report(evaluation, f"Query classifier ({both}, pooled: evaluation only)"),
        "",
        format_report(pooled, "Query classifier (5-fold cross-validation over the training sets)"),
        "",
        *dev_reports(fitted["dev"], held_out.get("dev")),
        "### Query classifier cost by prompt size",
        "",
        *cost_table(3 if quick else 20),
    ]
    return "\n".join(out)

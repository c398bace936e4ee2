"""The tier-0 judge measured: latency, timeouts and agreement on the routing sets.

Runs the judge against a real llama.cpp server (xllamacpp) serving the generated demo model,
the only model this machine has: its answers are schema-valid but random, so agreement shows
chance level and the latency shows what the mechanism costs around a very fast model. With
`run_judge_bench(quick, model=PATH)` any GGUF is used instead (a real 1-3B model gives real
agreement figures).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
from pathlib import Path

import aiohttp

from harombe.inference.openai_compat import OpenAIBackend
from harombe.routing.classifier import explain
from harombe.routing.devset import expand_messages, load_records
from harombe.routing.judge import Judge, shown_text

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "routing"
SKIPPED = "needs the llamacpp extra (pip install 'harombe[llamacpp]')"
BUDGET = float(os.environ.get("JUDGE_BUDGET", "0.3"))
"""The judge's budget in seconds (the config default); JUDGE_BUDGET overrides it, e.g. to
see the latency of answers that would have timed out."""


async def _measure(base_url: str, records: list[dict]) -> dict[str, float]:
    async with aiohttp.ClientSession() as session:
        backend = OpenAIBackend(base_url, session=session)
        judge = Judge(backend.chat, mode="llm", timeout=BUDGET, cache_size=0)
        await judge.task_tier("warm-up")
        judge.stats = type(judge.stats)()
        gold_agree = rules_agree = hybrid_exact = unsure = 0
        for record in records:
            messages = expand_messages(record)
            rules = explain(messages)
            judged = await judge.task_tier(shown_text(messages))
            context = rules.features["context_tier"]
            if judged is not None:
                gold_agree += max(judged, context) == record["tier"]
                rules_agree += judged == rules.features["task_tier"]
            hybrid = rules.tier
            if rules.features["unsure"]:
                unsure += 1
                hybrid = rules.tier if judged is None else max(judged, context)
            hybrid_exact += hybrid == record["tier"]
    stats, n = judge.stats, len(records)
    lat = sorted(stats.latencies) or [float("nan")]
    return {
        "n": n,
        "answered": stats.answered,
        "timeouts": stats.timeouts,
        "failures": stats.failures,
        "p50_ms": 1000 * statistics.median(lat),
        "p95_ms": 1000 * lat[int(0.95 * (len(lat) - 1))],
        "gold_agree": gold_agree / max(stats.answered, 1),
        "rules_agree": rules_agree / max(stats.answered, 1),
        "unsure": unsure / n,
        "hybrid_exact": hybrid_exact / n,
    }


def run_judge_bench(quick: bool, model: Path | None = None) -> str:
    try:
        import xllamacpp  # noqa: F401  (the optional llamacpp extra)

        from harombe.inference.demo_model import DEMO_MODEL_NAME, ensure_demo_model
        from harombe.inference.llamacpp import start_server, stop_server
    except ImportError:
        return f"### Tier-0 judge\n\nskipped: {SKIPPED}"

    with tempfile.TemporaryDirectory() as tmp:
        gguf = model or ensure_demo_model(Path(tmp))
        server = start_server(gguf, model_name=DEMO_MODEL_NAME, n_ctx=4096, threads=2)
        holder = [server]
        try:
            rows = []
            sets = ("dev.jsonl", "heldout.jsonl", "third.jsonl", "fourth.jsonl", "fifth.jsonl")
            for name in sets:
                records = load_records(DATA / name)[: 30 if quick else None]
                r = asyncio.run(_measure(server.listening_address, records))
                rows.append(
                    f"| {name} | {r['n']} | {r['answered']} / {r['timeouts']} / {r['failures']} "
                    f"| {r['p50_ms']:.1f} / {r['p95_ms']:.1f} ms | {100 * r['gold_agree']:.1f} % "
                    f"| {100 * r['rules_agree']:.1f} % | {100 * r['unsure']:.1f} % "
                    f"| {100 * r['hybrid_exact']:.1f} % |"
                )
        finally:
            del server
            stop_server(holder)
    return "\n".join(
        [
            f"### Tier-0 judge ({'given model' if model else 'demo model'}, budget "
            f"{1000 * BUDGET:.0f} ms, llama.cpp on loopback)",
            "",
            "| set | prompts | answered / timeouts / bad | latency p50 / p95 | agrees with gold "
            "| agrees with rules | unsure (hybrid asks) | hybrid exact |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )

"""The small-model judge: a tier-0 model asked for a tier when the rules are unsure.

`routing.classifier` chooses: `rules` (the classifier alone), `llm` (the judge for every
classified request, the rules when it fails) or `hybrid` (the judge only when the rules'
task score lies within `UNSURE_MARGIN` of a cut point). The judge routes one short request
to the fastest tier-0 node (the balancer's pick for tier 0) with its output constrained to
`{"tier": 0|1|2}` (Ollama `format` / OpenAI `response_format` json_schema, which llama.cpp
honours), waits at most `judge_timeout`, and falls back to the rules on a timeout, an error or
an answer that does not parse. Answers are cached by a hash of what the judge was shown, in a
bounded LRU, so a repeated prompt costs one dict lookup. The context rule still applies on
top: the judge decides the task tier only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from harombe.inference.types import BackendError, ChatChunk, ChatRequest, GenerationOptions, Message
from harombe.routing.classifier import Classification, explain
from harombe.routing.classifier.chat import final_turn, role_and_text
from harombe.routing.policy import Plan, Strategy, make_plan
from harombe.settings.routing import RoutingConfig

log = logging.getLogger(__name__)

TIER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"tier": {"type": "integer", "enum": [0, 1, 2]}},
    "required": ["tier"],
    "additionalProperties": False,
}
INSTRUCTIONS = (
    'You route requests to language models. Reply with JSON {"tier": N}. '
    "0: a quick answer in a few sentences (a fact, a definition, a conversion, a greeting, a "
    "short translation, one detail looked up in a pasted text). "
    "1: a balanced model's work (summarize or analyse one text, write a function or script, "
    "debug a snippet, explain a concept in depth, a multi-step word problem, a letter or "
    "essay, compare two options). "
    "2: the strongest model's work (synthesize many documents, system or architecture design, "
    "formal proofs, research plans, large refactors, long tasks with many constraints, hard "
    "competition maths). Judge the task in the request, not its keywords."
)
SHOWN_EDGE_CHARS = 1000
"""The judge sees the final user turn's first and last this many characters: the instruction
is at its edges, and a short prompt keeps the judge inside its budget."""
ANSWER_TOKENS = 12  # `{"tier": 2}` and some whitespace

Ask = Callable[[ChatRequest], AsyncIterator[ChatChunk]]


@dataclass
class JudgeStats:
    asked: int = 0
    answered: int = 0
    timeouts: int = 0
    failures: int = 0  # backend errors and answers outside the schema
    cache_hits: int = 0
    agreed: int = 0  # answers equal to the rules' task tier
    latencies: list[float] = field(default_factory=list)  # seconds, answered requests only


class Judge:
    """Asks `ask` (a routed tier-0 request) for task tiers; see the module docstring."""

    def __init__(
        self,
        ask: Ask,
        *,
        mode: str = "hybrid",
        timeout: float = 0.3,
        cache_size: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if mode not in ("llm", "hybrid"):
            raise ValueError(f"judge mode must be llm or hybrid, not {mode!r}")
        self._ask = ask
        self.mode = mode
        self.timeout = timeout
        self._cache: OrderedDict[str, int] = OrderedDict()
        self._cache_size = cache_size
        self._clock = clock
        self.stats = JudgeStats()

    @classmethod
    def from_config(
        cls, config: RoutingConfig, ask: Ask, clock: Callable[[], float]
    ) -> Judge | None:
        """The judge `config.classifier` asks for; None for `rules`."""
        if config.classifier == "rules":
            return None
        return cls(
            ask,
            mode=config.classifier,
            timeout=config.judge_timeout,
            cache_size=config.judge_cache_size,
            clock=clock,
        )

    async def revise(self, plan: Plan, messages: Any, strategy: Strategy) -> Plan:
        """`plan` (made with the rules' tier) with the judge's tier where that differs."""
        tier = (await self.classify(messages)).tier
        if tier == plan.classified_tier:
            return plan
        judged = make_plan(None, None, strategy, lambda: tier)
        return dataclasses.replace(judged, needs=plan.needs)

    def wanted(self, rules: Classification) -> bool:
        """Whether this classification should go to the judge."""
        return self.mode == "llm" or bool(rules.features.get("unsure"))

    async def classify(self, messages: Any) -> Classification:
        """The rules' classification, with the task tier the judge's where it was asked and
        answered in time (the context rule still raises it)."""
        rules = explain(messages)
        if not self.wanted(rules):
            return rules
        judged = await self.task_tier(shown_text(messages))
        if judged is None:
            rules.reasons.append("judge unavailable: the rules decide")
            return rules
        if judged == rules.features["task_tier"]:
            self.stats.agreed += 1
        tier = max(judged, rules.features["context_tier"])
        reasons = [*rules.reasons, f"judge: task tier {judged}"]
        features = {**rules.features, "judge_tier": judged}
        return Classification(tier=tier, features=features, reasons=reasons)

    async def task_tier(self, text: str) -> int | None:
        """The judge's tier for `text`, from the cache or the model; None when it failed."""
        key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        if (hit := self._cache.get(key)) is not None:
            self._cache.move_to_end(key)
            self.stats.cache_hits += 1
            return hit
        self.stats.asked += 1
        started = self._clock()
        try:
            async with asyncio.timeout(self.timeout):
                answer = await self._collect(text)
        except TimeoutError:
            self.stats.timeouts += 1
            return None
        except BackendError as exc:
            self.stats.failures += 1
            log.debug("judge failed: %s", exc)
            return None
        tier = parse_tier(answer)
        if tier is None:
            self.stats.failures += 1
            return None
        self.stats.answered += 1
        self.stats.latencies.append(self._clock() - started)
        self._cache[key] = tier
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return tier

    async def _collect(self, text: str) -> str:
        request = ChatRequest(
            messages=[Message("system", INSTRUCTIONS), Message("user", text)],
            model="tier-0",
            options=GenerationOptions(temperature=0.0, max_tokens=ANSWER_TOKENS),
            format=TIER_SCHEMA,
        )
        parts = []
        async with aclosing(self._ask(request)) as chunks:
            async for chunk in chunks:
                parts.append(chunk.content)
                if chunk.done:
                    break
        return "".join(parts)


def shown_text(messages: Any) -> str:
    """What the judge is shown: the final user turn, or its edges when long."""
    turns = [role_and_text(m) for m in (messages or [])]
    text = final_turn(turns)
    if len(text) <= 2 * SHOWN_EDGE_CHARS:
        return text
    return f"{text[:SHOWN_EDGE_CHARS]}\n[...]\n{text[-SHOWN_EDGE_CHARS:]}"


def parse_tier(answer: str) -> int | None:
    """The tier in a `{"tier": N}` answer, or None for anything else."""
    try:
        value = json.loads(answer)
    except ValueError:
        return None
    tier = value.get("tier") if isinstance(value, dict) else None
    return tier if type(tier) is int and tier in (0, 1, 2) else None

"""What a request needs of a node besides its tier: room for the prompt in the serving model's
context window, and tool calling when the request carries tools.

Nodes advertise both per model in their gossiped record (`ctx`: model → window in tokens;
`tool_models`: models whose backend reports tool calling), taken from the backend's model list
(`ModelInfo.context_length`, `ModelInfo.capabilities`). Unknown means "may fit": a node that
advertises nothing is never skipped for it, so clusters of older peers route as before.

The prompt's size is estimated as characters / 4 over every message, the same estimate as the
classifier's context rule; it costs O(messages), never O(characters).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from harombe.inference.types import BackendError, ChatRequest, ModelInfo
from harombe.routing.classifier.chat import CHARS_PER_TOKEN, text_of
from harombe.routing.policy import Group, Plan
from harombe.routing.view import Candidate

TOOLS_CAPABILITY = "tools"


@dataclass(frozen=True)
class Needs:
    """What one request asks of a node."""

    prompt_tokens: int
    tools: bool = False

    @classmethod
    def of(cls, request: ChatRequest) -> Needs:
        """Messages and tool schemas both take room in the window (the backend renders the
        schemas into the prompt)."""
        tokens = estimate_tokens(request.messages)
        if request.tools:
            tokens += len(json.dumps(request.tools)) // CHARS_PER_TOKEN
        return cls(tokens, tools=bool(request.tools))


def estimate_tokens(messages: Iterable[Any]) -> int:
    """Characters / 4 over all message contents (str, None or a list of parts)."""
    chars = 0
    for m in messages:
        content = m.get("content") if isinstance(m, dict) else getattr(m, "content", None)
        chars += len(content) if isinstance(content, str) else len(text_of(content))
    return chars // CHARS_PER_TOKEN


def advertised(models: Iterable[ModelInfo]) -> tuple[dict[str, int], list[str]]:
    """(context window per model, models that call tools) for a node's record."""
    models = list(models)
    ctx = {m.name: m.context_length for m in models if m.context_length}
    tool_models = [m.name for m in models if TOOLS_CAPABILITY in (m.capabilities or ())]
    return ctx, tool_models


def serving_model(candidate: Candidate, model: str | None) -> str | None:
    """The model a node answers with: `model`, else its default (first loaded, else first)."""
    if model is not None:
        return model
    return next(iter(candidate.loaded or candidate.models), None)


def window(candidate: Candidate, model: str | None) -> int | None:
    """The node's context window for `model` (or its default one) in tokens; None: unknown."""
    served = serving_model(candidate, model)
    if served is not None and served in candidate.ctx:
        return candidate.ctx[served]
    return None


def fits(candidate: Candidate, model: str | None, needs: Needs) -> bool:
    size = window(candidate, model)
    return size is None or needs.prompt_tokens <= size


def calls_tools(candidate: Candidate, model: str | None) -> bool:
    served = serving_model(candidate, model)
    return served is not None and served in candidate.tool_models


def in_group(candidate: Candidate, group: Group) -> bool:
    """Whether `candidate` belongs to `group` (a tier, or the nodes serving a model)."""
    if group.tier is not None and candidate.tier != group.tier:
        return False
    if group.model is not None:
        return group.model in candidate.models and (group.model in candidate.loaded) == (
            group.loaded
        )
    return True


class PromptTooLargeError(BackendError):
    """The prompt is larger than every candidate's context window: refused, never forwarded."""

    code = "context_length_exceeded"

    def __init__(self, tokens: int, largest: int) -> None:
        super().__init__(
            f"prompt too large: about {tokens:,} tokens, but the largest context window of "
            f"any node that could serve it is {largest:,} tokens",
            status=400,
            retryable=False,
        )
        self.tokens = tokens
        self.largest = largest


def fitted(plan: Plan, request: ChatRequest, candidates: Iterable[Candidate]) -> Plan:
    """`plan` carrying what `request` needs of a node (the balancer reads `plan.needs`);
    `PromptTooLargeError` when the prompt fits no candidate's context window."""
    needs = Needs.of(request)
    check_fits(plan, candidates, needs)
    return dataclasses.replace(plan, needs=needs)


def check_fits(plan: Plan, candidates: Iterable[Candidate], needs: Needs) -> None:
    """Raise `PromptTooLargeError` when every node the plan could use advertises a context
    window and the prompt fits none of them. Nodes of unknown window count as fitting; nodes
    whose backend is down do not count."""
    largest = 0
    for c in candidates:
        if not c.backend_ok or not any(in_group(c, g) for g in plan.groups):
            continue
        size = window(c, plan.model)
        if size is None or needs.prompt_tokens <= size:
            return
        largest = max(largest, size)
    if largest:
        raise PromptTooLargeError(needs.prompt_tokens, largest)

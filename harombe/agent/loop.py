"""One agent turn: routed model calls, tool calls, results fed back, until an answer or a limit.

Each model call is a step, routed by the coordinator like any client request, so each lands on
its own node and tier: steps that may call tools go to `agent.tool_tier` (default: wherever the
classifier sends the step); once tools have run on a lower tier than the whole task's, the final
answer is asked on the task's tier, with what the tools gathered. The user's `prefer_tier` wins
over both. A malformed tool call (an unknown tool, arguments that do not fit, a reply outside
the text format) is retried once one tier up, with the problem stated; a second one ends the
turn with an error.

The turn stops at an answer, after `max_steps` model calls, or when the model repeats a call it
already made in this turn (then the answer is asked for without tools).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from harombe.agent import context, react
from harombe.agent.config import AgentConfig
from harombe.agent.confirm import Confirmations
from harombe.agent.events import (
    AnswerEvent,
    ConfirmEvent,
    ErrorEvent,
    Event,
    StepEvent,
    TokenEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from harombe.agent.store import ConversationStore
from harombe.agent.tools import BadArguments, Tool, ToolError
from harombe.inference.types import BackendError, ChatRequest, Message, ToolCall
from harombe.routing.fit import PromptTooLargeError
from harombe.routing.route import Coordinator, RouteInfo, RouteOptions

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You are harombe's assistant. Use the tools when they help; call one tool at a time and "
    "answer plainly when you have what you need."
)
REPAIR_PROMPT = (
    "Your last reply was not a valid tool call ({problem}). Reply again: call one of the "
    "tools with valid arguments, or answer."
)
WINDOW_SHARE = 0.75  # of the largest window the prompt may fill; the rest is for the answer
FINAL_PROMPT = "{question}\n\nWhat the tools found:\n{gathered}\n\nAnswer using it."

ToolSource = Callable[[Iterable[str] | None], Awaitable[list[Tool]]]
"""The tools to offer by name (None: every local one); raises KeyError for an unknown name."""


@dataclass
class TurnRequest:
    message: str
    conversation: str | None = None
    tools: list[str] | None = None  # names offered; None: every enabled tool
    max_steps: int | None = None  # may only lower `agent.max_steps`
    prefer_tier: int | None = None
    interactive: bool = True  # False: no client can confirm, so confirmations are denied


@dataclass
class _Reply:
    content: str = ""
    calls: list[ToolCall] = field(default_factory=list)
    route: RouteInfo = field(default_factory=RouteInfo)


class Agent:
    def __init__(
        self,
        config: AgentConfig,
        *,
        coordinator: Coordinator,
        tools: ToolSource,
        store: ConversationStore,
        confirmations: Confirmations,
        classify: Callable[[list[Message]], int],
    ) -> None:
        self.config = config
        self.coordinator = coordinator
        self.tools = tools
        self.store = store
        self.confirmations = confirmations
        self.classify = classify

    def turn(self, request: TurnRequest, conversation: str, history: list[Message]) -> _Turn:
        return _Turn(self, request, conversation, history)


class _Turn:
    """One turn's state; iterate it for its events. The turn is stored when it ends."""

    def __init__(
        self, agent: Agent, request: TurnRequest, conversation: str, history: list[Message]
    ) -> None:
        self.agent = agent
        self.config = agent.config
        self.request = request
        self.conversation = conversation
        self.history = history
        self.messages: list[Message] = [Message(role="user", content=request.message)]
        self.max_steps = min(request.max_steps or self.config.max_steps, self.config.max_steps)
        self.format = "native" if self.config.tool_format == "auto" else self.config.tool_format
        self.steps: list[dict[str, Any]] = []
        self.executed: set[str] = set()
        self.call_ids: set[str] = set()
        self.started = time.time()
        self.reply = _Reply()
        self.stopped: str | None = None
        self.failed = False
        self.budget = self.config.context_tokens  # lowered to the window routing reports

    async def __aiter__(self) -> AsyncIterator[Event]:
        answer: str | None = None
        error: str | None = None
        try:
            async for event in self._run():
                if isinstance(event, AnswerEvent):
                    answer = event.content
                elif isinstance(event, ErrorEvent):
                    error = event.message
                yield event
        except BackendError as exc:
            error = f"the model call failed: {exc}"
            yield ErrorEvent(error, self.conversation)
        except KeyError as exc:  # a tool source's "unknown tool" (a peer that left)
            error = f"no tool {exc.args[0]!r} is available now"
            yield ErrorEvent(error, self.conversation)
        finally:
            self._close_open_calls()
            if answer is not None:
                self.messages.append(Message(role="assistant", content=answer))
            info = {"steps": self.steps, "stopped": self.stopped, "error": error}
            store = self.agent.store.add_turn(self.conversation, self.messages, info, self.started)
            await asyncio.shield(store)  # a client that leaves still leaves its turn stored

    def _close_open_calls(self) -> None:
        """A result for every call the turn ended before running (the client left, a limit),
        so the stored conversation stays one every model API accepts."""
        answered = {m.tool_call_id for m in self.messages if m.role == "tool"}
        for message in list(self.messages):
            for call in message.tool_calls:
                if call.id not in answered:
                    note = "not run: the turn ended first"
                    self.messages.append(
                        Message(role="tool", content=note, tool_call_id=call.id, name=call.name)
                    )

    async def _run(self) -> AsyncIterator[Event]:
        tools = await self.agent.tools(self.request.tools)
        whole = [*self.history, *self.messages]
        task_tier = self.request.prefer_tier
        if task_tier is None:
            task_tier = self.agent.classify(whole)
        tool_tier = self.request.prefer_tier
        if tool_tier is None:
            tool_tier = self.config.tool_tier
        by_name = {t.name: t for t in tools}
        while len(self.steps) < self.max_steps:
            async for event in self._step(tools, tool_tier):
                yield event
            if self.failed:  # malformed twice
                return
            if not self.reply.calls:
                async for event in self._finish(self.reply, task_tier):
                    yield event
                return
            fresh = [c for c in self.reply.calls if _key(c) not in self.executed]
            if not fresh:
                self.stopped = "repeated_call"
                async for event in self._finish(None, task_tier):
                    yield event
                return
            self.messages.append(Message(role="assistant", content="", tool_calls=fresh))
            for call in fresh:
                async for event in self._run_tool(by_name[call.name], call):
                    yield event
        yield ErrorEvent(
            f"no answer after {self.max_steps} model calls (max_steps)", self.conversation
        )

    async def _step(self, tools: list[Tool], tier: int | None) -> AsyncIterator[Event]:
        """A tool-choosing step; `self.failed` when its reply stayed malformed."""
        async for event in self._call(self._context, tools, tier, "tools"):
            yield event
        problem = self._problem(tools)
        if problem is None:
            return
        failed = self.reply.route.tier
        up = min(failed + 1, 2) if failed is not None else tier
        note = Message(role="user", content=REPAIR_PROMPT.format(problem=problem))
        if len(self.steps) < self.max_steps:
            repair = self._call(
                lambda: [*self._context(), note], tools, up, "tools", failed, problem
            )
            async for event in repair:
                yield event
            problem = self._problem(tools)
            if problem is None:
                return
        self.failed = True
        yield ErrorEvent(f"the model made a malformed tool call: {problem}", self.conversation)

    def _problem(self, tools: list[Tool]) -> str | None:
        """Why the last reply is not a usable tool call or answer; None when it is."""
        reply = self.reply
        if self.format in ("react", "json"):
            parse = react.parse if self.format == "react" else react.parse_json
            try:
                parsed = parse(reply.content)
            except react.FormatError as exc:
                return str(exc)
            reply.content = parsed.answer or ""
            reply.calls = [parsed.call] if parsed.call else []
        by_name = {t.name: t for t in tools}
        for n, call in enumerate(reply.calls):
            if call.id is None or call.id in self.call_ids:  # ids must be unique in a turn
                call.id = f"call_{len(self.steps)}_{n}"
            self.call_ids.add(call.id)
            tool = by_name.get(call.name)
            if tool is None:
                return f"there is no tool {call.name!r}"
            try:
                tool.check(call.arguments)
            except BadArguments as exc:
                return f"{call.name}: {exc}"
        return None

    async def _finish(self, reply: _Reply | None, task_tier: int) -> AsyncIterator[Event]:
        """The answer: the last step's text, or a final step on the task's tier with what the
        tools gathered, when tools ran on a lower tier than the task's (or a call repeated)."""
        used_tools = any(m.role == "tool" for m in self.messages)
        below = reply is not None and (reply.route.tier or 0) < task_tier
        needs_final = reply is None or (used_tools and below)
        if needs_final and len(self.steps) < self.max_steps:
            question = self.messages[0].content
            final = FINAL_PROMPT.format(question=question, gathered=context.gathered(self.messages))
            ask = Message(role="user", content=final)
            answer = self._call(
                lambda: [*self._context(with_turn=False), ask], [], task_tier, "answer", stream=True
            )
            async for event in answer:
                yield event
            yield AnswerEvent(self.reply.content, self.conversation, self.stopped)
        elif reply is not None:
            if reply.content:
                yield TokenEvent(reply.content)
            yield AnswerEvent(reply.content, self.conversation, self.stopped)
        else:
            yield ErrorEvent(
                f"the model repeated a call and no model calls are left (max_steps "
                f"{self.max_steps})",
                self.conversation,
            )

    def _context(self, *, with_turn: bool = True) -> list[Message]:
        """System prompt, history and (`with_turn`) this turn so far, trimmed to the budget."""
        messages = [Message(role="system", content=SYSTEM_PROMPT), *self.history]
        keep_from = len(messages)
        if with_turn:
            messages += self.messages
        return context.trim(messages, self.budget, keep_from)

    async def _call(
        self,
        build: Callable[[], list[Message]],
        tools: list[Tool],
        tier: int | None,
        purpose: str,
        escalated_from: int | None = None,
        reason: str | None = None,
        *,
        stream: bool = False,
    ) -> AsyncIterator[Event]:
        """One routed model call; its step event as soon as a node answers, then its tokens
        (with `stream`). The reply lands in `self.reply`. `build` gives the messages: built
        again, trimmed harder, when routing finds them larger than every context window."""
        fmt = self.format if tools else "native"
        messages = build()
        request = ChatRequest(
            messages=_render(messages, tools, fmt) if fmt != "native" else messages,
            tools=[t.schema() for t in tools] if tools and fmt == "native" else None,
            format=react.json_schema(tools) if fmt == "json" else None,
        )
        request.options.seed = self.config.seed
        number = len(self.steps) + 1
        try:
            routed = self.agent.coordinator.open(request, RouteOptions(prefer_tier=tier))
        except PromptTooLargeError as exc:
            budget = int(exc.largest * WINDOW_SHARE)
            if budget >= self.budget:
                raise
            log.info("context larger than every window (%s); trimming to %d tokens", exc, budget)
            self.budget = budget
            retry = self._call(build, tools, tier, purpose, escalated_from, reason, stream=stream)
            async for event in retry:
                yield event
            return
        reply = _Reply(route=routed.route)
        announced = False
        parts: list[str] = []
        try:
            async with aclosing(aiter(routed)) as chunks:  # type: ignore[type-var]
                async for chunk in chunks:
                    if not announced:
                        announced = True
                        yield self._step_event(number, reply.route, purpose, fmt,
                                               escalated_from, reason)  # fmt: skip
                    parts.append(chunk.content)
                    reply.calls.extend(chunk.tool_calls)
                    if stream and chunk.content:
                        yield TokenEvent(chunk.content)
                    if chunk.done:
                        break
        except BackendError as exc:
            if fmt == "native" and tools and exc.status == 400 and not announced:
                # a server refusing `tools` for this model (routing refuses before sending)
                if self.config.tool_format == "auto":  # a model without tool calling
                    log.info("model refused tools (%s); using the text format", exc)
                    self.format = "react"
                    retry = self._call(
                        build, tools, tier, purpose, escalated_from, reason, stream=stream
                    )
                    async for event in retry:
                        yield event
                    return
            raise
        if not announced:
            yield self._step_event(number, reply.route, purpose, fmt, escalated_from, reason)
        reply.content = "".join(parts)
        self.reply = reply
        route = reply.route
        self.steps.append(
            {
                "step": number,
                "purpose": purpose,
                "format": fmt,
                "node": route.node,
                "tier": route.tier,
                "classified_tier": route.classified_tier,
                "model": route.model,
                "escalated_from": escalated_from,
                "timings": {"first_token_s": route.first_token_s, "total_s": route.total_s},
                "fallbacks": [vars(s) for s in route.fallbacks],
            }
        )

    @staticmethod
    def _step_event(
        number: int,
        route: RouteInfo,
        purpose: str,
        fmt: str,
        escalated_from: int | None,
        reason: str | None,
    ) -> StepEvent:
        return StepEvent(number, route.node, route.tier, route.model, purpose, fmt,
                         escalated_from, reason)  # fmt: skip

    async def _run_tool(self, tool: Tool, call: ToolCall) -> AsyncIterator[Event]:
        assert call.id is not None
        self.executed.add(_key(call))
        yield ToolCallEvent(call.id, call.name, call.arguments, tool.remote)
        allowed = True
        if tool.needs_confirm:
            confirm_id = self.agent.confirmations.new_id()
            yield ConfirmEvent(confirm_id, call.name, call.arguments)
            allowed = self.request.interactive and await self.agent.confirmations.wait(confirm_id)
        if not allowed:
            ok, output = False, "denied: the user did not allow this call"
        else:
            ok, output = await _execute(tool, call.arguments)
        output = _capped(output, self.config.max_tool_output)
        yield ToolResultEvent(call.id, ok, output)
        self.messages.append(
            Message(role="tool", content=output, tool_call_id=call.id, name=call.name)
        )


async def _execute(tool: Tool, arguments: dict[str, Any]) -> tuple[bool, str]:
    try:
        return True, await tool.run(arguments)
    except ToolError as exc:
        return False, str(exc)
    except OSError as exc:
        return False, f"{tool.name} failed: {exc}"


def _capped(output: str, limit: int) -> str:
    if len(output) <= limit:
        return output
    return output[:limit] + f"\n[output cut: {len(output) - limit} more characters]"


def _key(call: ToolCall) -> str:
    return call.name + json.dumps(call.arguments, sort_keys=True)


def _render(messages: list[Message], tools: list[Tool], fmt: str) -> list[Message]:
    """The messages in a text format ("react" or "json"): instructions in the system prompt,
    tool calls as the format writes them, tool results as Observation messages."""
    out: list[Message] = []
    guide = react.instructions(tools) if fmt == "react" else react.json_instructions(tools)
    for message in messages:
        if message.role == "system":
            out.append(Message(role="system", content=f"{message.content}\n\n{guide}"))
        elif message.tool_calls:
            text = "\n".join(react.render_call(call, fmt) for call in message.tool_calls)
            out.append(Message(role="assistant", content=text))
        elif message.role == "tool":
            out.append(Message(role="user", content=react.observation(message.content)))
        else:
            out.append(Message(role=message.role, content=message.content))
    return out

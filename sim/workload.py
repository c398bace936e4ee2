"""Client load: queries from the routing dev set, Poisson arrivals, each sent to a random peer.

A client whose entry peer dies under it (its HTTP connection resets) retries once at another
live peer, as a client configured with several peers would. A query is *completed* when its
stream ends with a done chunk, *failed* when the cluster answers with an error, and *lost* when
neither happens before its deadline or the stream ends without a done chunk: a lost query is a
bug, a failed one is at least an honest answer.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harombe.inference.types import (
    BackendError,
    ChatChunk,
    ChatRequest,
    GenerationOptions,
    Message,
)
from harombe.routing.devset import expand_messages, load_records
from harombe.routing.route import RouteInfo

DEV_SET = Path(__file__).resolve().parent.parent / "tests" / "data" / "routing" / "dev.jsonl"


@dataclass
class WorkloadSpec:
    rate: float = 2.0  # queries per second across the cluster
    deadline: float = 120.0  # seconds after which an unfinished query counts as lost
    max_tokens: int | None = None  # answer length; None: the backend's random length
    client_retries: int = 3  # retries at another peer when the entry peer dies


@dataclass
class Prompt:
    id: str
    messages: list[Message]
    tier: int  # gold tier from the dev set


@dataclass
class QueryResult:
    id: int
    prompt: str
    gold_tier: int
    started: float
    entry: str = ""
    outcome: str = "pending"  # then completed | failed | lost
    classified_tier: int | None = None
    served_tier: int | None = None
    node: str | None = None
    fallbacks: int = 0
    client_retries: int = 0
    ttft: float | None = None
    latency: float | None = None
    error: str | None = None


def load_prompts(path: Path = DEV_SET) -> list[Prompt]:
    prompts = []
    for record in load_records(path):
        messages = [_message(m) for m in expand_messages(record)]
        prompts.append(Prompt(str(record["id"]), messages, int(record["tier"])))
    return prompts


def _message(m: dict[str, Any]) -> Message:
    return Message(role=m["role"], content=m.get("content") or "")


ENTRY_DOWN = "entry peer died"


class EntryPeerDown(Exception):
    """The peer a client was talking to went away mid-request (connection reset)."""


class EntryPeer(Protocol):
    """The peer a client talks to (`sim.peer.SimPeer`): its name and its API handler."""

    name: str

    def client_request(
        self, request: ChatRequest
    ) -> AsyncIterator[tuple[ChatChunk, RouteInfo]]: ...


@dataclass
class Workload:
    pick_entry: Callable[[random.Random], EntryPeer | None]
    """A random live, unimpaired peer (`SimCluster.random_live_peer`), None when none is."""
    spec: WorkloadSpec
    rng: random.Random
    prompts: list[Prompt]
    results: list[QueryResult] = field(default_factory=list)
    _tasks: dict[asyncio.Task[None], None] = field(default_factory=dict)

    async def run(self, until: float) -> None:
        """Issue queries (Poisson arrivals) until virtual time `until`."""
        loop = asyncio.get_running_loop()
        while True:
            gap = self.rng.expovariate(self.spec.rate)
            if loop.time() + gap >= until:
                return
            await asyncio.sleep(gap)
            result = QueryResult(id=len(self.results), prompt="", gold_tier=0, started=loop.time())
            prompt = self.rng.choice(self.prompts)
            result.prompt, result.gold_tier = prompt.id, prompt.tier
            self.results.append(result)
            task = asyncio.create_task(self._query(prompt, result))
            self._tasks[task] = None
            task.add_done_callback(lambda t: self._tasks.pop(t, None))

    async def drain(self) -> None:
        """Wait for every query to finish (each is bounded by its deadline)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _query(self, prompt: Prompt, result: QueryResult) -> None:
        try:
            async with asyncio.timeout(self.spec.deadline):
                await self._attempts(prompt, result)
        except TimeoutError:
            result.outcome, result.error = "lost", "deadline passed"

    async def _attempts(self, prompt: Prompt, result: QueryResult) -> None:
        loop = asyncio.get_running_loop()
        for attempt in range(self.spec.client_retries + 1):
            entry = self.pick_entry(self.rng)
            if entry is None:
                result.outcome, result.error = "failed", "no live peer to connect to"
                return
            result.entry, result.client_retries = entry.name, attempt
            request = ChatRequest(
                messages=list(prompt.messages),
                model="auto",
                options=GenerationOptions(max_tokens=self.spec.max_tokens),
            )
            done = False
            route = None
            try:
                async for chunk, latest in entry.client_request(request):
                    route = latest
                    if result.ttft is None:
                        result.ttft = loop.time() - result.started
                    done = done or chunk.done
            except EntryPeerDown as exc:
                result.error = f"{ENTRY_DOWN}: {exc}"
                continue
            except BackendError as exc:
                result.outcome, result.error = "failed", f"{exc.status}: {exc}"
                return
            result.latency = loop.time() - result.started
            if route is not None:
                result.classified_tier, result.served_tier = route.classified_tier, route.tier
                result.node, result.fallbacks = route.node, len(route.fallbacks)
            if done:
                result.outcome, result.error = "completed", None
            else:
                result.outcome, result.error = "lost", "stream ended without a done chunk"
            return
        result.outcome = "failed"

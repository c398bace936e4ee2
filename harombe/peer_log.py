"""What a running peer tells its operator: the log lines of `harombed` at INFO and WARNING.

A newcomer reads these to learn whether the peer works: who it is, whether its backend and its
seeds answer, who joined, was suspected, died or left, and whether a machine is knocking with
another cluster key. Everything here only formats and rate-limits; the parts that know the
facts (membership, backend checks, the codec) call in.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import msgspec

from harombe.cluster.state import MemberState

log = logging.getLogger("harombe.peer")

KEY_WARNING_INTERVAL_S = 60.0
"""Seconds between two warnings about the same address sending frames signed with another
cluster key (a misconfigured peer retries every few seconds; one line a minute is enough)."""
KEY_WARNING_MAX_ADDRESSES = 256
"""Addresses whose last key warning is remembered; beyond, the oldest is forgotten, so frames
from many claimed addresses cannot grow this peer's memory."""
KEY_WARNINGS_PER_INTERVAL = 10
"""Key warnings logged per interval, all addresses together: frames claiming a new address each
time (the address is the sender's unverified claim) cannot flood the log."""

_BACKEND_HINTS = {
    "ollama": "is Ollama running there? start it with `ollama serve`, or set backend.url",
    "openai": "is the OpenAI-compatible server running there? check backend.url and "
    "backend.api_key",
    "llamacpp": "check backend.gguf and the log above",
}


class MembershipLog:
    """A `Membership.on_change` callback: one INFO line per peer joining, suspected, dead,
    back or gone (WARNING for suspected and dead: a machine went quiet)."""

    def __call__(self, member: Any, previous: MemberState | None) -> None:
        if member.is_self:
            return
        who = f"peer {member.name} ({member.address})"
        state = member.state
        if state is MemberState.ALIVE:
            if previous is None:
                log.info("%s joined", who)
            elif previous is MemberState.SUSPECT:
                log.info("%s answers again (no longer suspected)", who)
            else:
                log.info("%s is back (it was %s)", who, previous.label)
        elif state is MemberState.SUSPECT:
            log.warning("%s suspected: it missed its probes", who)
        elif state is MemberState.DEAD:
            log.warning("%s is dead: it stopped answering; requests go to other peers", who)
        elif state is MemberState.LEFT:
            log.info("%s left the cluster", who)


class KeyMismatchLog:
    """Warns, at most once per `interval` per address and `per_interval` times in all, that an
    address sends frames this peer cannot authenticate: its cluster key differs (or only one
    side has a key)."""

    def __init__(
        self,
        *,
        interval: float = KEY_WARNING_INTERVAL_S,
        max_addresses: int = KEY_WARNING_MAX_ADDRESSES,
        per_interval: int = KEY_WARNINGS_PER_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = interval
        self._max = max_addresses
        self._per_interval = per_interval
        self._clock = clock
        self._last: collections.OrderedDict[str, float] = collections.OrderedDict()
        self._suppressed: collections.Counter[str] = collections.Counter()
        self._window_start = -float("inf")
        self._window_count = 0
        self._unlogged = 0  # frames from addresses not warned about: over the overall limit

    def frame_refused(self, frame: bytes) -> None:
        address = claimed_address(frame)
        now = self._clock()
        last = self._last.get(address)
        if last is not None and now - last < self._interval:
            self._suppressed[address] += 1
            return
        if now - self._window_start >= self._interval:
            self._window_start, self._window_count = now, 0
        if self._window_count >= self._per_interval:
            self._unlogged += 1
            return
        self._window_count += 1
        self._last[address] = now
        self._last.move_to_end(address)
        while len(self._last) > self._max:
            gone, _ = self._last.popitem(last=False)
            self._suppressed.pop(gone, None)
        again = self._suppressed.pop(address, 0)
        notes = [f"{again} more since the last warning"] if again else []
        if self._unlogged:
            notes.append(f"{self._unlogged} from other addresses not logged")
            self._unlogged = 0
        log.warning(
            "refused cluster frames from %s: they are not signed with this peer's cluster key "
            "(security.cluster_key differs, or only one side has one); it is not admitted%s",
            address,
            f" ({'; '.join(notes)})" if notes else "",
        )


def claimed_address(frame: bytes) -> str:
    """The sender address an unauthenticated frame claims (unverified: for the log only)."""
    try:
        _version, _label, payload, _mac = msgspec.msgpack.decode(frame)
        sender, address, *_ = msgspec.msgpack.decode(payload)
        return f"{_printable(address)} (name {_printable(sender)!r})"
    except (msgspec.DecodeError, ValueError, TypeError):
        return "an unknown address"


def _printable(value: object) -> str:
    """At most 64 characters of `value`, any that are not printable (newlines) replaced."""
    return "".join(c if c.isprintable() else "?" for c in str(value)[:64])


class BackendLog:
    """Logs the local backend's health when it changes: its models once it answers, a WARNING
    with its URL and a hint when it does not (once, until it answers again)."""

    def __init__(self, kind: str, where: str, recheck_s: float) -> None:
        self._kind = kind
        self._where = where
        self._recheck_s = recheck_s
        self._ok: bool | None = None

    def answered(self, models: Sequence[str]) -> None:
        if self._ok is True:
            return
        again = "answers again" if self._ok is False else "answers"
        self._ok = True
        listed = ", ".join(models) if models else "none (pull or load one)"
        log.info("backend %s at %s %s; models: %s", self._kind, self._where, again, listed)

    def failed(self, error: BaseException) -> None:
        if self._ok is False:
            return
        self._ok = False
        hint = _BACKEND_HINTS.get(self._kind, "check the backend section of the config")
        log.warning(
            "backend %s at %s is unreachable (%s); %s. This peer routes to others meanwhile "
            "and checks again every %.0f s",
            self._kind,
            self._where,
            str(error) or type(error).__name__,
            hint,
            self._recheck_s,
        )


async def report_seeds(
    session: aiohttp.ClientSession, seeds: Sequence[str], limit_s: float, scheme: str = "http"
) -> None:
    """Say which seeds answer now; the membership keeps trying the others in the background."""
    if not seeds:
        return
    log.info("joining through seeds: %s", ", ".join(seeds))
    results = await asyncio.gather(*(_health(session, f"{scheme}://{s}", limit_s) for s in seeds))
    for seed, problem in zip(seeds, results, strict=True):
        if problem:
            log.warning("seed %s unreachable (%s); retrying in the background", seed, problem)
        else:
            log.info("seed %s answers", seed)


async def _health(session: aiohttp.ClientSession, url: str, limit_s: float) -> str | None:
    try:
        limit = aiohttp.ClientTimeout(total=limit_s)
        async with session.get(f"{url}/health", timeout=limit) as resp:
            return None if resp.status == 200 else f"HTTP {resp.status} on /health"
    except TimeoutError:
        return f"no answer within {limit_s:g} s"
    except aiohttp.ClientError as exc:
        return str(exc) or type(exc).__name__

"""The timed trials on a running cluster: a peer joins (new, or restarted after a kill), a peer
is killed, a peer leaves gracefully; and what one cluster size measured."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp

from sim.bench.loopback.observe import Rest, wait_http, watch
from sim.bench.loopback.processes import Peer

DETECT_TIMEOUT_S = 60.0
JOIN_TIMEOUT_S = 60.0


@dataclass
class Join:
    """Seconds from starting a peer's process."""

    http_up: float  # its HTTP server answers
    first_seen: float  # every other peer has seen it alive at least once
    joined: float  # every peer, it included, sees every peer alive, all at once
    flaps: int  # a peer's view met that, then lost it again (e.g. saw the newcomer die)
    odd: set[tuple[str, str, str]]


async def join(http: aiohttp.ClientSession, members: list[Peer], newcomer: Peer) -> Join:
    """Start `newcomer` (a new peer, or one restarted on its name and port) and time its join."""
    loop = asyncio.get_running_loop()
    names = {p.name for p in members} | {newcomer.name}
    everyone = [*(p for p in members if p is not newcomer), newcomer]
    t0 = loop.time()
    await newcomer.start()
    try:
        async with asyncio.TaskGroup() as group:
            up = group.create_task(wait_http(http, newcomer, t0, JOIN_TIMEOUT_S))
            seen = group.create_task(
                watch(
                    http,
                    everyone,
                    lambda view: all(view.get(n) == "alive" for n in names),
                    t0,
                    JOIN_TIMEOUT_S,
                    f"join of {newcomer.name}",
                    stable=True,
                    expected_alive=lambda o: names - {newcomer.name, o.name},
                )
            )
    except* (TimeoutError, RuntimeError) as errors:
        raise errors.exceptions[0] from None
    result = seen.result()
    return Join(
        up.result(),
        max(t for name, t in result.first.items() if name != newcomer.name),
        max(result.times.values()),
        result.flaps,
        result.odd,
    )


@dataclass
class Kill:
    first_dead: float  # SIGKILL -> the first peer reports it dead
    all_dead: float  # SIGKILL -> every surviving peer does
    odd: set[tuple[str, str, str]]
    rejoin: Join  # restarted on its name and port at once (a new generation)


async def kill_and_restart(http: aiohttp.ClientSession, peers: list[Peer], victim: Peer) -> Kill:
    loop = asyncio.get_running_loop()
    others = [p for p in peers if p is not victim]
    names = {p.name for p in peers}
    t0 = loop.time()
    await victim.kill()
    dead = await watch(
        http,
        others,
        lambda view: view.get(victim.name) == "dead",
        t0,
        DETECT_TIMEOUT_S,
        f"death of {victim.name}",
        expected_alive=lambda o: names - {victim.name, o.name},
    )
    rejoin = await join(http, peers, victim)
    return Kill(min(dead.times.values()), max(dead.times.values()), dead.odd, rejoin)


async def leave(http: aiohttp.ClientSession, others: list[Peer], leaver: Peer) -> float:
    """SIGTERM (graceful leave): seconds until every other peer reports `leaver` left."""
    t0 = asyncio.get_running_loop().time()
    _, left = await asyncio.gather(
        leaver.stop(),
        watch(
            http,
            others,
            lambda view: view.get(leaver.name) == "left",
            t0,
            JOIN_TIMEOUT_S,
            f"leave of {leaver.name}",
        ),
    )
    return max(left.times.values())


async def joins_then_leaves(
    http: aiohttp.ClientSession, peers: list[Peer], newcomers: list[Peer]
) -> tuple[list[Join], list[float]]:
    """Brand-new peers join one at a time and stay (no recently gone peer is around to draw
    gossip), then leave one at a time."""
    members = list(peers)
    joins = []
    for newcomer in newcomers:
        joins.append(await join(http, members, newcomer))
        members.append(newcomer)
    leaves = []
    for leaver in reversed(newcomers):
        members.remove(leaver)
        leaves.append(await leave(http, members, leaver))
    return joins, leaves


@dataclass
class SizeResult:
    peers: int
    formation: tuple[float, float]  # every process up, every peer joined
    rest: Rest
    rest_window: float
    joins: list[Join]
    leaves: list[float]
    kills: list[Kill]
    kills_cpu: tuple[float, float, float]  # daemons, bench, host cores during the kill trials

"""Seed joining, backoff and the mDNS announcement's validation (no network needed)."""

from __future__ import annotations

import random

import pytest
from support.cluster_harness import eventually

from harombe.cluster.backoff import backoff_delay
from harombe.cluster.discovery import MdnsDiscovery, SeedJoiner, label_hash


@pytest.mark.parametrize(
    ("attempt", "ceiling"),
    [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 8.0), (50, 8.0)],
)
def test_backoff_doubles_up_to_the_maximum_with_jitter_in_the_upper_half(attempt, ceiling):
    rng = random.Random(7)
    delays = [backoff_delay(attempt, 0.5, 8.0, rng) for _ in range(200)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert len(set(delays)) > 100


def test_label_hash_is_short_and_does_not_reveal_the_label():
    assert label_hash("lab") == label_hash("lab")
    assert label_hash("lab") != label_hash("home")
    assert len(label_hash("lab")) == 16
    assert "lab" not in label_hash("lab")


def test_mdns_refuses_to_advertise_a_host_name():
    with pytest.raises(ValueError, match="IP address"):
        MdnsDiscovery(
            name="n",
            label="l",
            api_port=1,
            host="box.example",
            interfaces=None,
            on_peer=print,
        )


class FakeMembership:
    """Stands in for the membership's join/is_joined/known-addresses hooks and records calls."""

    def __init__(self, known: set[str], joined: bool = False) -> None:
        self.known = known
        self.joined = joined
        self.joins: list[list[str]] = []
        self.checks = 0

    def is_joined(self) -> bool:
        self.checks += 1
        return self.joined

    def joiner(self) -> SeedJoiner:
        return SeedJoiner(
            ["a:1", "b:1", "a:1"],
            join=self.joins.append,
            is_joined=self.is_joined,
            known_addresses=lambda: self.known,
            backoff_min=0.001,
            backoff_max=0.004,
            rejoin_interval=0.005,
        )


async def test_seeds_are_retried_until_joined_then_only_missing_ones_rejoined():
    fake = FakeMembership(known={"a:1"})
    seeds = fake.joiner()
    await seeds.start()
    try:
        await eventually(lambda: len(fake.joins) >= 3, what="retries while not joined")
        fake.joined = True
        before = len(fake.joins)
        await eventually(lambda: len(fake.joins) >= before + 3, what="periodic rejoins")
    finally:
        await seeds.close()
    assert all(j == ["a:1", "b:1"] for j in fake.joins[:before])
    assert all(j == ["b:1"] for j in fake.joins[before:])


async def test_nothing_is_rejoined_while_every_seed_is_a_member():
    fake = FakeMembership(known={"a:1", "b:1"}, joined=True)
    seeds = fake.joiner()
    await seeds.start()
    try:
        await eventually(lambda: fake.checks >= 3, what="three turns of the loop")
    finally:
        await seeds.close()
    assert fake.joins == []


async def test_no_seeds_means_nothing_runs():
    fake = FakeMembership(known=set())
    seeds = SeedJoiner([], join=fake.joins.append, is_joined=fake.is_joined)
    await seeds.start()
    await seeds.close()
    assert fake.checks == 0 and fake.joins == []

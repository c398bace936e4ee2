"""Policy: tier order per classified tier, overrides, strict vs graceful, real models."""

import pytest

from harombe.routing.policy import Group, make_plan, tier_order, virtual_tier


def never() -> int:
    raise AssertionError("the classifier must not run")


@pytest.mark.parametrize(
    ("tier", "strategy", "order"),
    [
        (0, "graceful", (0, 1, 2)),
        (1, "graceful", (1, 2, 0)),
        (2, "graceful", (2, 1, 0)),
        (0, "strict", (0,)),
        (1, "strict", (1,)),
        (2, "strict", (2,)),
    ],
)
def test_tier_order(tier, strategy, order):
    assert tier_order(tier, strategy) == order


def test_tier_order_rejects_unknown_tier():
    with pytest.raises(ValueError, match="tier must be one of"):
        tier_order(3, "graceful")


@pytest.mark.parametrize(
    ("model", "tier"),
    [("tier-0", 0), ("tier-2", 2), ("auto", None), (None, None), ("tier-9", None)],
)
def test_virtual_tier(model, tier):
    assert virtual_tier(model) == tier


@pytest.mark.parametrize(
    ("model", "prefer", "classified", "groups", "wanted", "recorded"),
    [
        (None, None, 2, (2, 1, 0), 2, 2),  # classifier decides
        ("auto", None, 0, (0, 1, 2), 0, 0),
        ("auto", 1, None, (1, 2, 0), 1, None),  # user's prefer_tier, no classification
        ("tier-2", None, None, (2, 1, 0), 2, None),  # virtual model names the tier
        ("tier-2", 0, None, (0, 1, 2), 0, None),  # prefer_tier wins over tier-N
    ],
)
def test_virtual_models(model, prefer, classified, groups, wanted, recorded):
    plan = make_plan(
        model, prefer, "graceful", (lambda: classified) if classified is not None else never
    )
    assert [g.tier for g in plan.groups] == list(groups)
    assert plan.wanted_tier == wanted
    assert plan.classified_tier == recorded
    assert plan.model is None


def test_strict_keeps_only_the_wanted_tier():
    plan = make_plan("auto", None, "strict", lambda: 1)
    assert plan.groups == (Group(tier=1),)


def test_real_model_prefers_nodes_with_it_loaded_and_ignores_tiers():
    plan = make_plan("qwen2.5:14b", 2, "strict", never)
    assert plan.groups == (
        Group(model="qwen2.5:14b", loaded=True),
        Group(model="qwen2.5:14b", loaded=False),
    )
    assert plan.model == "qwen2.5:14b" and plan.wanted_tier is None

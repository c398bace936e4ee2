"""MembershipConfig: profiles, documentation of every field, validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from harombe.cluster.config import MembershipConfig


def test_every_field_has_a_description():
    for name, field in MembershipConfig.model_fields.items():
        assert field.description and len(field.description) > 20, name


def test_profiles_override_a_few_fields_and_explicit_values_win():
    lan, wan, local = MembershipConfig.lan(), MembershipConfig.wan(), MembershipConfig.local()
    assert lan == MembershipConfig()
    assert wan.probe_interval > lan.probe_interval > local.probe_interval
    assert wan.max_frame_bytes == lan.max_frame_bytes
    assert MembershipConfig(profile="wan", probe_timeout=2.5).probe_timeout == 2.5
    assert MembershipConfig.model_validate({"profile": "local"}) == local


def test_unknown_and_invalid_fields_are_rejected():
    with pytest.raises(ValidationError):
        MembershipConfig(probe_intervall=1.0)
    with pytest.raises(ValidationError):
        MembershipConfig(probe_interval=0)
    with pytest.raises(ValidationError):
        MembershipConfig(profile="mars")


def test_pushpull_interval_scales_with_cluster_size_and_is_capped():
    cfg = MembershipConfig(pushpull_interval=10, pushpull_max_interval=60)
    assert [cfg.pushpull_period(n) for n in (1, 32, 33, 64, 65, 128, 100_000)] == [
        10, 10, 20, 20, 30, 30, 60,
    ]  # fmt: skip

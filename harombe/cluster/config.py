"""Membership timings and limits (placeholder: the membership work fills this in)."""

from pydantic import BaseModel, ConfigDict


class MembershipConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

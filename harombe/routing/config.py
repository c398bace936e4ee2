"""Routing preferences (placeholder: the routing work fills this in)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict


class RoutingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prefer_local: bool = True
    fallback_strategy: Literal["graceful", "strict"] = "graceful"
    load_balance: bool = True

"""The models a peer offers its clients: the virtual ones and every real model in the cluster."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from harombe.api.errors import ApiError
from harombe.inference.types import BackendError, LoadedModel, ModelInfo
from harombe.routing.route import VIRTUAL_MODELS, Coordinator

VIRTUAL_FAMILY = "harombe"
VIRTUAL_CAPABILITIES = ["completion", "tools"]


@dataclass
class CatalogEntry:
    info: ModelInfo
    nodes: list[str] = field(default_factory=list)
    loaded_on: list[str] = field(default_factory=list)
    virtual: bool = False
    loaded: LoadedModel | None = None  # this node's backend's own report, when loaded here

    def harombe_meta(self) -> dict[str, Any]:
        return {"nodes": self.nodes, "loaded_on": self.loaded_on, "virtual": self.virtual}

    @property
    def digest(self) -> str:
        """Distinct per listed name and stable across restarts: clients that key models by
        digest must not merge `auto` with `tier-1`, nor two names the backend gives one file."""
        kind = "virtual" if self.virtual else "model"
        seed = f"harombe/{kind}/{self.info.name}/{self.info.digest or ''}"
        return hashlib.sha256(seed.encode()).hexdigest()

    @property
    def capabilities(self) -> list[str]:
        if self.virtual:
            return VIRTUAL_CAPABILITIES
        return self.info.capabilities or VIRTUAL_CAPABILITIES


async def catalog(coordinator: Coordinator) -> list[CatalogEntry]:
    """Virtual models first (served by every node), then the real ones by name."""
    try:
        models = await coordinator.models()
    except BackendError as exc:
        raise ApiError.from_backend(exc) from exc
    real = [
        CatalogEntry(
            info=m.info, nodes=sorted(m.nodes), loaded_on=sorted(m.loaded_on), loaded=m.loaded
        )
        for m in sorted(models, key=lambda m: m.info.name)
    ]
    every_node = sorted({n for entry in real for n in entry.nodes})
    virtual = [
        CatalogEntry(info=ModelInfo(name=v, family=VIRTUAL_FAMILY), nodes=every_node, virtual=True)
        for v in VIRTUAL_MODELS
    ]
    return virtual + real


async def find(coordinator: Coordinator, name: str) -> CatalogEntry:
    """The entry called `name` (a bare name also matches its ":latest" tag); else a 404."""
    entries = await catalog(coordinator)
    for candidate in (name, f"{name}:latest", name.removesuffix(":latest")):
        for entry in entries:
            if entry.info.name == candidate:
                return entry
    raise ApiError(404, f"model {name!r} not found", param="model", code="model_not_found")

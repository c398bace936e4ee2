"""The models a peer offers its clients: the virtual ones and every real model in the cluster."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harombe.api.errors import ApiError
from harombe.inference.types import BackendError, ModelInfo
from harombe.routing.route import VIRTUAL_MODELS, Coordinator

VIRTUAL_FAMILY = "harombe"


@dataclass
class CatalogEntry:
    info: ModelInfo
    nodes: list[str] = field(default_factory=list)
    loaded_on: list[str] = field(default_factory=list)
    virtual: bool = False

    def harombe_meta(self) -> dict[str, Any]:
        return {"nodes": self.nodes, "loaded_on": self.loaded_on, "virtual": self.virtual}


async def catalog(coordinator: Coordinator) -> list[CatalogEntry]:
    """Virtual models first (served by every node), then the real ones by name."""
    try:
        models = await coordinator.models()
    except BackendError as exc:
        raise ApiError.from_backend(exc) from exc
    real = [
        CatalogEntry(info=m.info, nodes=sorted(m.nodes), loaded_on=sorted(m.loaded_on))
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

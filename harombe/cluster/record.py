"""Each node's own record: what it serves and how busy it is, gossiped to every peer."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

import msgspec
from msgspec import Meta, Raw, Struct

import harombe
from harombe.utilisation import Utilisation

_MAX_STR = 256
_MAX_ITEMS = 512
_SCALAR = (str, int, float, bool, type(None))
MAX_SPONSORED = 16
"""Plain inference servers one record may carry (its `sponsored` list)."""


@dataclass
class SponsoredNode:
    """A plain inference server (Ollama, OpenAI-compatible) with no harombe of its own: the
    node whose record lists it health-checks it and serves requests routed to it."""

    name: str
    tier: int = 0
    models: list[str] = field(default_factory=list)
    ok: bool = False
    kind: str = ""

    def to_wire(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_wire(cls, d: Any) -> SponsoredNode:
        if not isinstance(d, dict):
            raise ValueError("a sponsored node must be a mapping")
        return cls(
            name=_str(d.get("name"), "sponsored name"),
            tier=_count(d.get("tier", 0), "sponsored tier"),
            models=_str_list(d.get("models", []), "sponsored models"),
            ok=_bool(d.get("ok", False), "sponsored ok"),
            kind=_str(d.get("kind", ""), "sponsored kind"),
        )


@dataclass
class NodeRecord:
    name: str
    address: str
    tier: int = 0
    models: list[str] = field(default_factory=list)
    loaded: list[str] = field(default_factory=list)
    hardware: dict[str, Any] = field(default_factory=dict)
    """Summary: kind ("nvidia", "apple_silicon", "amd", "cpu"), gpu, vram_gb, ram_gb, cores."""
    capacity: int = 1
    """Concurrent requests this node serves well."""
    active: int = 0
    queue: int = 0
    tps: dict[str, float] = field(default_factory=dict)
    """Measured tokens/s per model."""
    ttft: dict[str, float] = field(default_factory=dict)
    """Measured time to first token (seconds) per model."""
    backend_ok: bool = True
    version: str = harombe.__version__
    ctx: dict[str, int] = field(default_factory=dict)
    """Context window (tokens) per model, where the backend reports it."""
    tool_models: list[str] = field(default_factory=list)
    """Models whose backend reports tool calling."""
    tools: list[str] = field(default_factory=list)
    """Agent tools this node runs for other peers (`agent.shared_tools`)."""
    utilisation: Utilisation | None = None
    """The latest CPU/RAM/GPU sample (gossiped with load); None: unknown or stale."""
    sponsored: list[SponsoredNode] = field(default_factory=list)
    """Plain inference servers this node health-checks and serves for the cluster."""
    excluded: list[str] = field(default_factory=list)
    """Node names this node's operator removed (`harombe cluster remove`): nobody routes to
    them; the union over every record is the cluster's exclusion list."""

    _raw: ClassVar[Raw | None] = None

    def raw(self) -> Raw:
        """The msgpack form, made once per record and shared with every message that carries
        it: a record is a value, never changed once made (make a new one), and so is its
        encoding. Shared across a simulator's peers, this is most of their broadcast queues."""
        if self._raw is None:
            self._raw = Raw(msgspec.msgpack.encode(self.to_wire()))
        return self._raw

    def to_wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "address": self.address,
            "tier": self.tier,
            "models": self.models,
            "loaded": self.loaded,
            "hardware": self.hardware,
            "capacity": self.capacity,
            "active": self.active,
            "queue": self.queue,
            "tps": self.tps,
            "ttft": self.ttft,
            "backend_ok": self.backend_ok,
            "version": self.version,
            # absent when empty: compact, and what older peers send
            **({"ctx": self.ctx} if self.ctx else {}),
            **({"tool_models": self.tool_models} if self.tool_models else {}),
            **({"tools": self.tools} if self.tools else {}),
            **({"utilisation": msgspec.to_builtins(self.utilisation)} if self.utilisation else {}),
            **({"sponsored": [n.to_wire() for n in self.sponsored]} if self.sponsored else {}),
            **({"excluded": self.excluded} if self.excluded else {}),
        }

    @classmethod
    def from_raw(cls, raw: Raw) -> NodeRecord:
        """Decode and validate a record received as raw msgpack; ValueError if malformed."""
        try:
            wire = msgspec.msgpack.decode(raw)
        except (msgspec.MsgspecError, ValueError, RecursionError):
            raise ValueError("record is not valid msgpack (or nested too deep)") from None
        return cls.from_wire(wire)

    @classmethod
    def from_wire(cls, d: Any) -> NodeRecord:
        """Validate a decoded record; ValueError on any bad field. Unknown keys are ignored
        (newer peers may add fields)."""
        if not isinstance(d, dict):
            raise ValueError("record must be a mapping")
        try:
            return cls(
                name=_str(d["name"], "name"),
                address=_str(d["address"], "address"),
                tier=_count(d.get("tier", 0), "tier"),
                models=_str_list(d.get("models", []), "models"),
                loaded=_str_list(d.get("loaded", []), "loaded"),
                hardware=_scalar_map(d.get("hardware", {}), "hardware"),
                capacity=_count(d.get("capacity", 1), "capacity"),
                active=_count(d.get("active", 0), "active"),
                queue=_count(d.get("queue", 0), "queue"),
                tps=_float_map(d.get("tps", {}), "tps"),
                ttft=_float_map(d.get("ttft", {}), "ttft"),
                backend_ok=_bool(d.get("backend_ok", True), "backend_ok"),
                version=_str(d.get("version", ""), "version"),
                ctx=_count_map(d.get("ctx", {}), "ctx"),
                tool_models=_str_list(d.get("tool_models", []), "tool_models"),
                tools=_str_list(d.get("tools", []), "tools"),
                utilisation=Utilisation.from_wire(d.get("utilisation")),
                sponsored=_sponsored(d.get("sponsored", [])),
                excluded=_str_list(d.get("excluded", []), "excluded"),
            )
        except KeyError as exc:
            raise ValueError(f"record lacks {exc.args[0]!r}") from None


_Count = Annotated[int, Meta(ge=0, lt=2**31)]
_Rates = Annotated[
    dict[Annotated[str, Meta(max_length=_MAX_STR)], float], Meta(max_length=_MAX_ITEMS)
]


class NodeLoad(Struct, array_like=True, frozen=True, gc=False):
    """The load part of a record (LOAD_FIELDS): gossiped on its own when nothing else changed,
    a few dozen bytes instead of the whole record. Validated as it is decoded."""

    active: _Count
    queue: _Count
    tps: _Rates
    ttft: _Rates
    utilisation: Utilisation | None = None

    def __post_init__(self) -> None:
        for rates in (self.tps, self.ttft):
            if not all(math.isfinite(v) for v in rates.values()):
                raise ValueError("load rates must be finite numbers")

    @classmethod
    def of(cls, record: NodeRecord) -> NodeLoad:
        return cls(
            record.active, record.queue, dict(record.tps), dict(record.ttft), record.utilisation
        )

    def apply(self, record: NodeRecord) -> NodeRecord:
        """`record` with this load."""
        return dataclasses.replace(
            record,
            active=self.active,
            queue=self.queue,
            tps=dict(self.tps),
            ttft=dict(self.ttft),
            utilisation=self.utilisation,
        )


LOAD_FIELDS = frozenset(NodeLoad.__struct_fields__)


def quantize(record: NodeRecord, digits: int) -> NodeRecord:
    """The record with tokens/s and time-to-first-token rounded to `digits` significant
    digits, so measurement jitter does not count as a change."""
    return dataclasses.replace(
        record,
        tps={k: round_significant(v, digits) for k, v in record.tps.items()},
        ttft={k: round_significant(v, digits) for k, v in record.ttft.items()},
    )


def round_significant(x: float, digits: int) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


def only_load_changed(old: NodeRecord, new: NodeRecord) -> bool:
    """True when the records differ in load fields only (those are rate-limited)."""
    return any(getattr(old, f) != getattr(new, f) for f in LOAD_FIELDS) and all(
        getattr(old, f.name) == getattr(new, f.name)
        for f in dataclasses.fields(NodeRecord)
        if f.name not in LOAD_FIELDS
    )


def _sponsored(x: Any) -> list[SponsoredNode]:
    if not isinstance(x, list) or len(x) > MAX_SPONSORED:
        raise ValueError(f"sponsored must be a list of at most {MAX_SPONSORED} nodes")
    return [SponsoredNode.from_wire(d) for d in x]


def _str(x: Any, what: str) -> str:
    if type(x) is not str or len(x) > _MAX_STR:
        raise ValueError(f"{what} must be a string of at most {_MAX_STR} characters")
    return x


def _count(x: Any, what: str) -> int:
    if type(x) is not int or not 0 <= x < 2**31:
        raise ValueError(f"{what} must be a non-negative integer")
    return x


def _bool(x: Any, what: str) -> bool:
    if type(x) is not bool:
        raise ValueError(f"{what} must be a boolean")
    return x


def _number(x: Any, what: str) -> float:
    if type(x) not in (int, float) or not math.isfinite(x):
        raise ValueError(f"{what} must be a finite number")
    return float(x)


def _str_list(x: Any, what: str) -> list[str]:
    if not isinstance(x, list) or len(x) > _MAX_ITEMS:
        raise ValueError(f"{what} must be a list of at most {_MAX_ITEMS} strings")
    return [_str(v, what) for v in x]


def _float_map(x: Any, what: str) -> dict[str, float]:
    if not isinstance(x, dict) or len(x) > _MAX_ITEMS:
        raise ValueError(f"{what} must be a mapping of at most {_MAX_ITEMS} entries")
    return {_str(k, what): _number(v, what) for k, v in x.items()}


def _count_map(x: Any, what: str) -> dict[str, int]:
    if not isinstance(x, dict) or len(x) > _MAX_ITEMS:
        raise ValueError(f"{what} must be a mapping of at most {_MAX_ITEMS} entries")
    return {_str(k, what): _count(v, what) for k, v in x.items()}


def _scalar_map(x: Any, what: str) -> dict[str, Any]:
    if not isinstance(x, dict) or len(x) > _MAX_ITEMS:
        raise ValueError(f"{what} must be a mapping of at most {_MAX_ITEMS} entries")
    out = {}
    for k, v in x.items():
        if not isinstance(v, _SCALAR) or (isinstance(v, str) and len(v) > _MAX_STR):
            raise ValueError(f"{what}[{k!r}] must be a short scalar")
        out[_str(k, what)] = v
    return out

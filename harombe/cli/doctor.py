"""`harombe doctor`: what this machine has, whether its backend answers, what it should serve.

Kept free of typer (the command lives in the CLI module) and of heavy imports, so the report
also runs on a bare machine with only pydantic, pyyaml, psutil, nvidia-ml-py and rich.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from harombe.hardware import GIB, HardwareInfo, Recommendation, detect_async, recommend
from harombe.utilisation import sample_once

if TYPE_CHECKING:
    from harombe.config import HarombeConfig
    from harombe.inference.types import Backend, LoadedModel, ModelInfo

DOCTOR_TIMEOUT_S = 5.0
"""Seconds each backend call (health, list models, loaded models) may take before the doctor
reports the backend as not answering; short, because a healthy local server answers at once."""


@dataclass
class BackendReport:
    kind: str
    url: str | None
    reachable: bool | None = None  # None: no backend configured, nothing to reach
    detail: str = ""
    error: str | None = None
    models: list[ModelInfo] = field(default_factory=list)
    loaded: list[LoadedModel] = field(default_factory=list)


@dataclass
class DoctorReport:
    node_name: str
    node_tier: int
    hardware: HardwareInfo
    backend: BackendReport
    recommendation: Recommendation
    live: dict[str, Any] | None = None
    """One utilisation sample as peers would see it gossiped: GPU vendor read, CPU share,
    RAM and each GPU's utilisation and VRAM (None: unknown)."""

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["hardware"]["usable_memory_bytes"] = self.hardware.usable_memory_bytes()
        return data

    def as_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)


async def run_doctor(
    config: HarombeConfig, backend: Backend | None, *, call_timeout_s: float = DOCTOR_TIMEOUT_S
) -> DoctorReport:
    """Detect the hardware and probe the backend at the same time; never raises for either."""
    async with asyncio.TaskGroup() as tg:
        hardware = tg.create_task(detect_async())
        backend_report = tg.create_task(_probe_backend(config, backend, call_timeout_s))
        live = tg.create_task(asyncio.to_thread(sample_once))
    vendor, sample = live.result()
    return DoctorReport(
        node_name=config.node.name,
        node_tier=config.node.tier,
        hardware=hardware.result(),
        backend=backend_report.result(),
        recommendation=recommend(hardware.result()),
        live={"gpu_reader": vendor, **sample.as_dict()},
    )


async def _probe_backend(
    config: HarombeConfig, backend: Backend | None, call_timeout_s: float
) -> BackendReport:
    report = BackendReport(kind=config.backend.kind, url=config.backend.resolved_url())
    if backend is None:
        none = config.backend.kind == "none"
        report.detail = "none configured; this peer only routes" if none else "not probed"
        return report
    try:
        async with asyncio.timeout(call_timeout_s):
            health = await backend.health()
        report.reachable, report.detail = health.ok, health.detail
        if not health.ok:
            report.error = health.detail or "the backend reports itself unhealthy"
            return report
        async with asyncio.timeout(call_timeout_s):
            report.models = await backend.list_models()
        async with asyncio.timeout(call_timeout_s):
            report.loaded = await backend.loaded_models()
    except TimeoutError:
        report.reachable = report.reachable or False
        report.error = f"no answer within {call_timeout_s:g} s"
    # The doctor exists to explain failures: whatever a backend raises becomes a line of text.
    except Exception as exc:
        report.reachable = report.reachable or False
        report.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return report


def _gib(n: int | None) -> str:
    return "?" if n is None else f"{n / GIB:.1f} GiB"


def _names(models: list[ModelInfo] | list[LoadedModel]) -> set[str]:
    return {m.name for m in models}


def _hardware_panel(hw: HardwareInfo) -> Panel:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("host", Text(f"{hw.hostname} ({hw.os}, {hw.arch})"))
    grid.add_row(
        "CPU", Text(f"{hw.cpu_model}, {hw.cores_physical} cores / {hw.cores_logical} threads")
    )
    memory = "unified memory" if hw.unified_memory else f"{_gib(hw.ram_available_bytes)} available"
    grid.add_row("RAM", Text(f"{_gib(hw.ram_total_bytes)} total, {memory}"))
    for gpu in hw.gpus:
        parts = [f"{gpu.name}", f"{_gib(gpu.vram_total_bytes)} VRAM"]
        if gpu.vram_free_bytes is not None:
            parts.append(f"{_gib(gpu.vram_free_bytes)} free")
        if gpu.utilization_pct is not None:
            parts.append(f"{gpu.utilization_pct:.0f}% busy")
        if gpu.driver:
            parts.append(f"driver {gpu.driver}")
        grid.add_row(f"GPU {gpu.index}", Text(", ".join(parts)))
    if not hw.gpus:
        grid.add_row("GPU", Text("no GPU detected", style="yellow"))
    for note in hw.notes:
        grid.add_row("", Text(note, style="dim"))
    grid.add_row("usable", Text(f"{_gib(hw.usable_memory_bytes())} for a model ({hw.kind})"))
    return Panel(grid, title="hardware", title_align="left", box=box.ROUNDED)


def _backend_panel(report: BackendReport) -> Panel:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("kind", Text(report.kind))
    grid.add_row("url", Text(report.url or "-"))
    if report.reachable is None:
        status = Text(report.detail, style="yellow")
    elif not report.reachable:
        status = Text(f"unreachable: {report.error}", style="red")
    elif report.error:
        status = Text(f"answers health checks, but: {report.error}", style="red")
    else:
        status = Text("reachable" + (f" ({report.detail})" if report.detail else ""), "green")
    grid.add_row("status", status)
    parts: list[Table | Text] = [grid]
    if report.models:
        loaded = _names(report.loaded)
        models = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        for column in ("model", "size", "params", "quant", "loaded"):
            models.add_column(column)
        for m in report.models:
            models.add_row(
                Text(m.name),
                _gib(m.size) if m.size else "-",
                Text(m.parameter_size or "-"),
                Text(m.quantization or "-"),
                "yes" if m.name in loaded else "",
            )
        parts.append(models)
    elif report.reachable and not report.error:
        parts.append(Text("no models found", style="yellow"))
    return Panel(Group(*parts), title="backend", title_align="left", box=box.ROUNDED)


def _recommendation_panel(report: DoctorReport) -> Panel:
    rec = report.recommendation
    lines = [
        Text(f"{rec.model} ({rec.params_b:g}B, {rec.quant}) as tier {rec.tier}", style="bold"),
        Text(rec.reason),
    ]
    if report.node_tier != rec.tier:
        lines.append(Text(f"this node is configured as tier {report.node_tier}", style="dim"))
    backend = report.backend
    probed = backend.reachable and not backend.error
    if backend.kind == "ollama" and probed and rec.model not in _names(backend.models):
        lines.append(Text(f"get it with: ollama pull {rec.model}", style="dim"))
    return Panel(Group(*lines), title="recommendation", title_align="left", box=box.ROUNDED)


def _share(ratio: float | None) -> str:
    return "?" if ratio is None else f"{ratio:.0%}"


def _live_panel(live: dict[str, Any]) -> Panel:
    """The sample this peer gossips (? marks what could not be read)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("CPU", Text(f"{_share(live['cpu'])} busy"))
    used, total = live["ram_used_bytes"], live["ram_total_bytes"]
    grid.add_row("RAM", Text(f"{_gib(used)} used of {_gib(total)}"))
    for gpu in live["gpus"]:
        vram = f"{_gib(gpu['vram_used_bytes'])} of {_gib(gpu['vram_total_bytes'])} VRAM used"
        grid.add_row(f"GPU {gpu['index']}", Text(f"{_share(gpu['util'])} busy, {vram}"))
    if not live["gpus"]:
        grid.add_row("GPU", Text(f"none read (reader: {live['gpu_reader']})", style="dim"))
    return Panel(grid, title="live (gossiped)", title_align="left", box=box.ROUNDED)


def render(report: DoctorReport, console: Console) -> None:
    console.print(_hardware_panel(report.hardware))
    if report.live is not None:
        console.print(_live_panel(report.live))
    console.print(_backend_panel(report.backend))
    console.print(_recommendation_panel(report))

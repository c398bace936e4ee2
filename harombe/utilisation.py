"""How busy this machine is now: CPU, RAM, and per GPU its utilisation and VRAM.

A `Probe` reads one sample (blocking: NVML, psutil, subprocesses); `UtilisationSampler` takes
one every `sample_interval` seconds in a thread and keeps the latest. Samples are compact
(percent and MiB, quantized) because they are gossiped with every node's load record.
Anything not readable is None — unknown — never 0: an idle GPU and one we cannot see differ.

Vendors: NVIDIA through NVML (pynvml); AMD through `rocm-smi --json`; Apple Silicon through
`ioreg` (the GPU's "PerformanceStatistics", readable without root). As in `hardware`, the
outside dependencies (the pynvml module, a command runner) are parameters, so tests drive the
real code with the real wire formats on a machine without that hardware.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import platform
import re
import shutil
import time
from collections.abc import Callable
from types import ModuleType
from typing import Annotated, Any, Literal

import msgspec
import psutil
from msgspec import Meta, Struct

from harombe import hardware
from harombe.hardware import (
    AMD_MIN_VRAM_BYTES,
    APPLE_GPU_SHARE,
    ROCM_SMI_ARGS,
    Runner,
    run_command,
    run_probe,
)

log = logging.getLogger(__name__)

MIB = 1024**2
PCT_STEP = 5
"""Utilisation is gossiped in steps of this many percent, so jitter is not news."""
MIB_STEP = 256
"""Memory used is gossiped in steps of this many MiB, for the same reason."""
MAX_GPUS = 16

_Pct = Annotated[int, Meta(ge=0, le=100)]
_Mib = Annotated[int, Meta(ge=0, lt=2**31)]


class GpuUtilisation(Struct, array_like=True, frozen=True, gc=False):
    util_pct: _Pct | None
    vram_used_mib: _Mib | None
    vram_total_mib: _Mib | None


class Utilisation(Struct, array_like=True, frozen=True, gc=False):
    """One sample, as gossiped: [cpu %, RAM used MiB, RAM total MiB, [[gpu %, used, total]…]]."""

    cpu_pct: _Pct | None
    ram_used_mib: _Mib | None
    ram_total_mib: _Mib | None
    gpus: Annotated[tuple[GpuUtilisation, ...], Meta(max_length=MAX_GPUS)] = ()

    def as_dict(self) -> dict[str, Any]:
        """Ratios and bytes, as the APIs show it (None: unknown)."""
        return {
            "cpu": _ratio(self.cpu_pct),
            "ram_used_bytes": _bytes(self.ram_used_mib),
            "ram_total_bytes": _bytes(self.ram_total_mib),
            "gpus": [
                {
                    "index": i,
                    "util": _ratio(g.util_pct),
                    "vram_used_bytes": _bytes(g.vram_used_mib),
                    "vram_total_bytes": _bytes(g.vram_total_mib),
                }
                for i, g in enumerate(self.gpus)
            ],
        }

    @classmethod
    def from_wire(cls, x: Any) -> Utilisation | None:
        """Validate a decoded sample (a list, or None); ValueError if malformed."""
        try:
            return msgspec.convert(x, cls | None)
        except msgspec.ValidationError as exc:
            raise ValueError(f"utilisation: {exc}") from None


def _ratio(pct: int | None) -> float | None:
    return None if pct is None else pct / 100


def _bytes(mib: int | None) -> int | None:
    return None if mib is None else mib * MIB


def pct(value: float | None) -> int | None:
    """A percentage, clamped and rounded to PCT_STEP; None stays None."""
    if value is None:
        return None
    return min(100, max(0, round(value / PCT_STEP) * PCT_STEP))


def mib(value: float | None, *, step: int = 1) -> int | None:
    """Bytes as MiB, rounded to `step` MiB; None stays None."""
    if value is None:
        return None
    return min(2**31 - 1, max(0, round(value / MIB / step) * step))


def gpu_sample(util: float | None, used: float | None, total: float | None) -> GpuUtilisation:
    return GpuUtilisation(pct(util), mib(used, step=MIB_STEP), mib(total))


# ---- vendor readers (blocking) ----------------------------------------------------------


def read_nvidia(nvml: Any) -> list[GpuUtilisation]:
    """Every device NVML lists (NVML already initialised); a field it cannot read is None."""
    gpus = []
    for index in range(min(nvml.nvmlDeviceGetCount(), MAX_GPUS)):
        util = used = total = None
        try:
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
        except nvml.NVMLError:
            gpus.append(gpu_sample(None, None, None))
            continue
        with contextlib.suppress(nvml.NVMLError):
            util = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
        with contextlib.suppress(nvml.NVMLError):
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            used, total = float(memory.used), float(memory.total)
        gpus.append(gpu_sample(util, used, total))
    return gpus


ROCM_SMI_USE_ARGS = (*ROCM_SMI_ARGS, "--showuse")


def read_amd(run: Runner) -> list[GpuUtilisation]:
    """Each card of `rocm-smi --showuse --showmeminfo vram --json`; [] when it cannot run."""
    out = run_probe(run, ROCM_SMI_USE_ARGS, "AMD", [])
    if out is None or "{" not in out:
        return []
    try:
        data = json.loads(out[out.index("{") :])
    except ValueError:
        return []
    if not isinstance(data, dict):
        return []
    gpus = []
    cards = sorted(
        (int(k[4:]), v)
        for k, v in data.items()
        if k.startswith("card") and k[4:].isdigit() and isinstance(v, dict)
    )
    for _, card in cards:
        fields = {str(k).lower(): v for k, v in card.items()}
        total = _number(fields.get("vram total memory (b)"))
        if total is not None and total < AMD_MIN_VRAM_BYTES:
            continue  # an integrated GPU's carve-out, left out as hardware.detect_amd does
        used = _number(fields.get("vram total used memory (b)"))
        gpus.append(gpu_sample(_number(fields.get("gpu use (%)")), used, total))
    return gpus[:MAX_GPUS]


IOREG_ARGS = ("ioreg", "-r", "-d", "1", "-w", "0", "-c", "IOAccelerator")
_IOREG_UTIL = re.compile(r'"Device Utilization %"\s*=\s*(\d+)')
_IOREG_USED = re.compile(r'"In use system memory"\s*=\s*(\d+)')


def read_apple(run: Runner, unified_bytes: float | None) -> list[GpuUtilisation]:
    """The Apple GPU from `ioreg`'s PerformanceStatistics; VRAM total is the share of unified
    memory the GPU may wire (hardware.APPLE_GPU_SHARE)."""
    out = run_probe(run, IOREG_ARGS, "Apple", [])
    if out is None:
        return []
    util, used = _IOREG_UTIL.search(out), _IOREG_USED.search(out)
    if util is None and used is None:
        return []
    total = unified_bytes * APPLE_GPU_SHARE if unified_bytes else None
    return [
        gpu_sample(
            float(util.group(1)) if util else None,
            float(used.group(1)) if used else None,
            total,
        )
    ]


def _number(x: Any) -> float | None:
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


GpuVendor = Literal["nvidia", "amd", "apple", "none"]


class Probe:
    """Reads samples of this machine. `open()` picks the GPU reader once (NVML stays
    initialised until `close()`); every call blocks, so run them in a thread."""

    def __init__(
        self,
        *,
        nvml: ModuleType | Any | Literal["auto"] | None = "auto",
        run: Runner = run_command,
        which: Callable[[str], str | None] = shutil.which,
        system: str | None = None,
        machine: str | None = None,
    ) -> None:
        self._nvml = hardware.load_nvml() if nvml == "auto" else nvml
        self._run = run
        self._which = which
        self._system = system or platform.system()
        self._machine = machine or platform.machine()
        self.vendor: GpuVendor = "none"

    def open(self) -> Probe:
        psutil.cpu_percent(interval=None)  # the first reading only starts the measurement
        if self._system == "Darwin" and self._machine == "arm64":
            self.vendor = "apple"
        elif self._nvml is not None and self._nvml_init():
            self.vendor = "nvidia"
        elif self._which("rocm-smi") is not None:
            self.vendor = "amd"
        return self

    def _nvml_init(self) -> bool:
        try:
            self._nvml.nvmlInit()
        except self._nvml.NVMLError:
            return False
        try:
            if self._nvml.nvmlDeviceGetCount() > 0:
                return True
        except self._nvml.NVMLError:
            pass
        self._shutdown_nvml()
        return False

    def _shutdown_nvml(self) -> None:
        with contextlib.suppress(self._nvml.NVMLError):
            self._nvml.nvmlShutdown()

    def close(self) -> None:
        if self.vendor == "nvidia":
            self._shutdown_nvml()
        self.vendor = "none"

    def sample(self) -> Utilisation:
        memory = psutil.virtual_memory()
        return Utilisation(
            cpu_pct=pct(psutil.cpu_percent(interval=None)),
            ram_used_mib=mib(memory.total - memory.available, step=MIB_STEP),
            ram_total_mib=mib(memory.total),
            gpus=tuple(self._gpus(memory.total)),
        )

    def _gpus(self, ram_total: int) -> list[GpuUtilisation]:
        if self.vendor == "nvidia":
            try:
                return read_nvidia(self._nvml)
            except self._nvml.NVMLError as exc:
                log.debug("NVML sample failed: %s", exc)
                return []
        if self.vendor == "amd":
            return read_amd(self._run)
        if self.vendor == "apple":
            return read_apple(self._run, ram_total)
        return []


def sample_once(probe: Probe | None = None, *, settle: float = 0.5) -> tuple[str, Utilisation]:
    """(GPU vendor read, one sample) taken `settle` seconds after opening, so the CPU share
    covers that span (blocking; for `harombe doctor`)."""
    probe = (probe or Probe()).open()
    try:
        time.sleep(settle)
        return probe.vendor, probe.sample()
    finally:
        probe.close()


def moved(old: Utilisation, new: Utilisation, pct: int, mib: int) -> bool:
    """Whether `new` differs from `old` by at least `pct` points of a share or `mib` MiB of
    memory, or in what is known, or in the devices listed."""

    def apart(a: int | None, b: int | None, step: int) -> bool:
        return (a is None) != (b is None) or (
            a is not None and b is not None and abs(a - b) >= step
        )

    if len(old.gpus) != len(new.gpus) or old.ram_total_mib != new.ram_total_mib:
        return True
    pairs = [(old.cpu_pct, new.cpu_pct, pct), (old.ram_used_mib, new.ram_used_mib, mib)]
    for g, h in zip(old.gpus, new.gpus, strict=True):
        pairs += [(g.util_pct, h.util_pct, pct), (g.vram_used_mib, h.vram_used_mib, mib)]
        pairs.append((g.vram_total_mib, h.vram_total_mib, 1))
    return any(apart(a, b, step) for a, b, step in pairs)


class UtilisationSampler:
    """Samples on a timer, off the event loop; `current()` is the latest sample, or None
    before the first one and once the latest is older than `stale_after` intervals."""

    def __init__(
        self,
        probe: Probe,
        *,
        interval: float,
        stale_after: float = 3.0,
        deadband_pct: int = 10,
        deadband_mib: int = 1024,
        min_interval: float = 0.0,
        interval_per_peer: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._probe = probe
        self._deadband = (deadband_pct, deadband_mib)
        self._min_gap = min_interval
        self._gap_per_peer = interval_per_peer
        self._gossiped: Utilisation | None = None
        self._gossiped_at = 0.0
        self.interval = interval
        self._stale_s = interval * stale_after
        self._clock = clock
        self._latest: Utilisation | None = None
        self._taken_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        self.on_sample: Callable[[], None] | None = None

    async def start(self) -> None:
        await asyncio.to_thread(self._probe.open)
        await self.sample_now()
        self._task = asyncio.create_task(self._loop(), name="harombe-utilisation")

    async def sample_now(self) -> None:
        try:
            self._latest = await asyncio.to_thread(self._probe.sample)
        except (OSError, RuntimeError) as exc:  # psutil's errors are OSError subclasses
            log.warning("utilisation sample failed: %s", exc)
            return
        self._taken_at = self._clock()
        if self.on_sample:
            self.on_sample()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.sample_now()

    async def aclose(self) -> None:
        task, self._task = self._task, None
        try:
            if task is not None:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    current = asyncio.current_task()
                    if current is not None and current.cancelling():
                        raise  # we are being cancelled ourselves: not ours to swallow
        finally:
            await asyncio.to_thread(self._probe.close)

    def age(self) -> float | None:
        """Seconds since the latest sample, or None if there is none."""
        return None if self._taken_at is None else self._clock() - self._taken_at

    def current(self) -> Utilisation | None:
        age = self.age()
        return self._latest if age is not None and age <= self._stale_s else None

    def gossiped(self, peers: int = 1) -> Utilisation | None:
        """The sample to gossip in a cluster of `peers`: the last one gossiped until the
        current one moved past the deadband, and at most once per gossip interval
        (`min_interval`, or `interval_per_peer` × peers if longer: every peer relays each
        update, so this keeps the traffic per peer flat as the cluster grows). A sample that
        went stale is withdrawn at once."""
        current = self.current()
        now = self._clock()
        due = self._gossiped_at + max(self._min_gap, self._gap_per_peer * peers)
        if current is None or self._gossiped is None:
            self._gossiped, self._gossiped_at = current, now
        elif now >= due and moved(self._gossiped, current, *self._deadband):
            self._gossiped, self._gossiped_at = current, now
        return self._gossiped

    @property
    def vendor(self) -> GpuVendor:
        return self._probe.vendor

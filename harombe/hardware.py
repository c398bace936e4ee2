"""What this machine has (CPU, RAM, GPUs) and which model it can serve well.

Detection never raises: every probe that fails (no library, no driver, a tool that hangs or
prints garbage, one GPU that errors) leaves a line in `HardwareInfo.notes` and detection goes
on, falling back to CPU. Each vendor probe is a small function whose outside dependencies (the
`pynvml` module, a command runner) are parameters, so tests drive it with the real wire formats
on a machine without that hardware.
"""

from __future__ import annotations

import asyncio
import json
import platform
import shutil
import socket
import subprocess
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import psutil

GIB = 1024**3

COMMAND_TIMEOUT_S = 5.0
"""Seconds a probe command (sysctl, rocm-smi) may run; rocm-smi can hang on a wedged driver."""

AMD_MIN_VRAM_BYTES = GIB
"""AMD devices with less VRAM than this are integrated GPUs' BIOS carve-outs, not a place to
load a model; counting them would make a CPU box look like a tiny GPU box."""

APPLE_GPU_SHARE = 0.70
"""Share of unified memory a model may use on Apple Silicon: macOS lets the GPU wire roughly
two thirds to three quarters of RAM (`recommendedMaxWorkingSetSize`); the rest stays with the
OS and apps."""

CPU_RAM_SHARE = 0.50
"""Share of *available* RAM a model may use on a CPU-only machine: weights and KV cache must
coexist with whatever else the machine runs, and CPU inference slows sharply as models grow,
so a conservative share picks a model that still answers at a usable speed."""

Runner = Callable[[Sequence[str], float], str]
"""Runs a command with a timeout and returns its stdout; raises OSError or SubprocessError."""

HardwareKind = Literal["nvidia", "apple_silicon", "amd", "cpu"]


@dataclass
class GPU:
    index: int
    vendor: Literal["nvidia", "amd", "apple"]
    name: str
    vram_total_bytes: int
    vram_free_bytes: int | None = None
    utilization_pct: float | None = None
    driver: str | None = None


@dataclass
class HardwareInfo:
    kind: HardwareKind
    hostname: str
    os: str
    arch: str
    cpu_model: str
    cores_physical: int
    cores_logical: int
    ram_total_bytes: int
    ram_available_bytes: int
    gpus: list[GPU] = field(default_factory=list)
    unified_memory: bool = False
    notes: list[str] = field(default_factory=list)

    def usable_memory_bytes(self) -> int:
        """Memory a model may occupy here (see APPLE_GPU_SHARE and CPU_RAM_SHARE for why)."""
        if self.kind in ("nvidia", "amd"):
            return sum(gpu.vram_total_bytes for gpu in self.gpus)
        if self.kind == "apple_silicon":
            return int(self.ram_total_bytes * APPLE_GPU_SHARE)
        return int(self.ram_available_bytes * CPU_RAM_SHARE)

    def summary(self) -> dict[str, Any]:
        """The few facts gossiped to peers: small, msgpack-friendly, stable keys."""
        return {
            "kind": self.kind,
            "gpu": self.gpus[0].name if self.gpus else None,
            "gpus": len(self.gpus),
            "vram_gb": round(sum(g.vram_total_bytes for g in self.gpus) / GIB, 1),
            "ram_gb": round(self.ram_total_bytes / GIB, 1),
            "cores": self.cores_physical,
        }


def run_command(args: Sequence[str], timeout: float) -> str:
    """The real `Runner`: stdout of a command that must exit 0 within `timeout` seconds."""
    return subprocess.run(
        list(args), capture_output=True, text=True, timeout=timeout, check=True
    ).stdout


def load_nvml() -> ModuleType | None:
    """The `pynvml` module (from nvidia-ml-py), or None when it is not installed."""
    with warnings.catch_warnings():
        # The deprecated `pynvml` distribution warns on import; the module is the same.
        warnings.simplefilter("ignore", FutureWarning)
        try:
            import pynvml
        except ImportError:
            return None
    return pynvml


def _text(value: str | bytes) -> str:
    """nvidia-ml-py returns str; older pynvml releases return bytes."""
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def detect_nvidia(nvml: Any, notes: list[str]) -> list[GPU]:
    """NVIDIA GPUs through `nvml` (the pynvml module, or None if it is not installed).

    A device that errors is skipped with a note; NVML is shut down whatever happens.
    """
    if nvml is None:
        notes.append("NVIDIA: pynvml (nvidia-ml-py) is not installed")
        return []
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as exc:
        notes.append(f"NVIDIA: NVML unavailable ({exc}); no NVIDIA driver on this machine?")
        return []
    try:
        try:
            driver: str | None = _text(nvml.nvmlSystemGetDriverVersion())
        except nvml.NVMLError:
            driver = None
        gpus = []
        for index in range(nvml.nvmlDeviceGetCount()):
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                name = _text(nvml.nvmlDeviceGetName(handle))
                memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            except nvml.NVMLError as exc:
                notes.append(f"NVIDIA: GPU {index} skipped ({exc})")
                continue
            try:
                utilization: float | None = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
            except nvml.NVMLError:
                utilization = None
            gpus.append(
                GPU(index, "nvidia", name, int(memory.total), int(memory.free), utilization, driver)
            )
        return gpus
    except nvml.NVMLError as exc:
        notes.append(f"NVIDIA: cannot list GPUs ({exc})")
        return []
    finally:
        try:
            nvml.nvmlShutdown()
        except nvml.NVMLError:
            pass


def run_probe(run: Runner, args: Sequence[str], vendor: str, notes: list[str]) -> str | None:
    try:
        return run(args, COMMAND_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        notes.append(f"{vendor}: `{' '.join(args)}` gave no answer within {COMMAND_TIMEOUT_S} s")
    except (OSError, subprocess.SubprocessError) as exc:
        notes.append(f"{vendor}: `{' '.join(args)}` failed ({exc})")
    return None


ROCM_SMI_ARGS = ("rocm-smi", "--showproductname", "--showmeminfo", "vram", "--json")


def detect_amd(run: Runner, which: Callable[[str], str | None], notes: list[str]) -> list[GPU]:
    """AMD GPUs from `rocm-smi --json`: {"card0": {"VRAM Total Memory (B)": "...", ...}}."""
    if which("rocm-smi") is None:
        notes.append("AMD: rocm-smi is not on PATH")
        return []
    out = run_probe(run, ROCM_SMI_ARGS, "AMD", notes)
    if out is None:
        return []
    try:
        # Some rocm-smi versions print warnings before the JSON document.
        data = json.loads(out[out.index("{") :])
    except ValueError:
        notes.append("AMD: rocm-smi printed no JSON")
        return []
    if not isinstance(data, dict):
        notes.append("AMD: rocm-smi JSON is not an object")
        return []
    cards = {
        k: v
        for k, v in data.items()
        if k.startswith("card") and k[4:].isdigit() and isinstance(v, dict)
    }
    if not cards:
        notes.append("AMD: rocm-smi listed no GPUs")
    gpus = []
    for key, card in cards.items():
        fields = {str(k).lower(): v for k, v in card.items()}
        try:
            total = int(fields["vram total memory (b)"])
            used = int(fields.get("vram total used memory (b)", 0))
        except (KeyError, TypeError, ValueError):
            notes.append(f"AMD: {key} has no readable VRAM total")
            continue
        name = str(fields.get("card series") or fields.get("card model") or key)
        if total < AMD_MIN_VRAM_BYTES:
            notes.append(f"AMD: {key} ({name}) ignored, {total // 2**20} MiB VRAM (integrated)")
            continue
        gpus.append(GPU(int(key[4:]), "amd", name, total, max(total - used, 0)))
    return gpus


def detect_apple(run: Runner, notes: list[str]) -> tuple[str, int] | None:
    """(chip name, unified memory bytes) from sysctl, or None."""
    brand = run_probe(run, ("sysctl", "-n", "machdep.cpu.brand_string"), "Apple", notes)
    memsize = run_probe(run, ("sysctl", "-n", "hw.memsize"), "Apple", notes)
    if brand is None or memsize is None:
        return None
    try:
        return brand.strip(), int(memsize.strip())
    except ValueError:
        notes.append(f"Apple: hw.memsize is not a number: {memsize.strip()[:40]!r}")
        return None


def _cpu_model(system: str, machine: str) -> str:
    if system == "Linux":
        try:
            for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                    return value.strip()
        except OSError:
            pass
    return platform.processor() or machine


def detect(
    *,
    nvml: ModuleType | Literal["auto"] | None = "auto",
    run: Runner = run_command,
    which: Callable[[str], str | None] = shutil.which,
    system: str | None = None,
    machine: str | None = None,
) -> HardwareInfo:
    """Probe this machine. Blocks (NVML, subprocesses); use `detect_async` in async code.

    `nvml="auto"` imports pynvml; the other parameters default to the real machine.
    """
    system = system or platform.system()
    machine = machine or platform.machine()
    notes: list[str] = []
    memory = psutil.virtual_memory()
    logical = psutil.cpu_count(logical=True) or 1
    info = HardwareInfo(
        kind="cpu",
        hostname=socket.gethostname(),
        os=f"{system} {platform.release()}".strip(),
        arch=machine,
        cpu_model=_cpu_model(system, machine),
        cores_physical=psutil.cpu_count(logical=False) or logical,
        cores_logical=logical,
        ram_total_bytes=memory.total,
        ram_available_bytes=memory.available,
        notes=notes,
    )
    if system == "Darwin" and machine == "arm64":
        apple = detect_apple(run, notes)
        if apple is not None:
            chip, memsize = apple
            info.kind, info.cpu_model, info.unified_memory = "apple_silicon", chip, True
            info.ram_total_bytes = memsize
            info.gpus = [GPU(0, "apple", chip, int(memsize * APPLE_GPU_SHARE))]
        return info
    info.gpus = detect_nvidia(load_nvml() if nvml == "auto" else nvml, notes)
    if info.gpus:
        info.kind = "nvidia"
        return info
    info.gpus = detect_amd(run, which, notes)
    if info.gpus:
        info.kind = "amd"
    return info


async def detect_async() -> HardwareInfo:
    return await asyncio.to_thread(detect)


@dataclass(frozen=True)
class Recommendation:
    model: str
    params_b: float
    quant: str
    tier: int
    reason: str


@dataclass(frozen=True)
class _Size:
    min_gib: float
    model: str
    params_b: float
    quant: str
    tier: int
    weights_gib: float


# Smallest usable memory first. Each row leaves room beyond the weights for the KV cache and
# runtime buffers (about 20 % or more), so the model loads fully on the GPU with a normal
# context. Ollama tags: the plain size tag is Q4_K_M.
_SIZES = (
    _Size(0, "qwen2.5:1.5b", 1.5, "q4_K_M", 0, 1.0),
    _Size(3, "qwen2.5:3b", 3.0, "q4_K_M", 0, 1.9),
    _Size(6, "qwen2.5:7b", 7.6, "q4_K_M", 0, 4.7),
    _Size(12, "qwen2.5:14b", 14.8, "q4_K_M", 1, 9.0),
    _Size(24, "qwen2.5:32b", 32.8, "q4_K_M", 1, 20.0),
    _Size(40, "qwen2.5:32b-instruct-q8_0", 32.8, "q8_0", 2, 35.0),
    _Size(52, "qwen2.5:72b", 72.7, "q4_K_M", 2, 47.0),
    _Size(96, "qwen2.5:72b-instruct-q8_0", 72.7, "q8_0", 2, 77.0),
)

_MEMORY_WORDS = {
    "nvidia": "total NVIDIA VRAM",
    "amd": "total AMD VRAM",
    "apple_silicon": f"{APPLE_GPU_SHARE:.0%} of unified memory",
    "cpu": f"{CPU_RAM_SHARE:.0%} of available RAM",
}


def recommend(info: HardwareInfo) -> Recommendation:
    """The largest model that fits this machine's usable memory, and the tier it suits."""
    usable_gib = info.usable_memory_bytes() / GIB
    size = next(s for s in reversed(_SIZES) if usable_gib >= s.min_gib)
    reason = (
        f"{usable_gib:.1f} GiB usable ({_MEMORY_WORDS[info.kind]}); {size.model} needs about "
        f"{size.weights_gib:g} GiB for weights plus room for context"
    )
    return Recommendation(size.model, size.params_b, size.quant, size.tier, reason)

"""Hardware detection, model recommendation and the doctor report.

No GPU here: the NVIDIA probe gets an object exposing NVML's functions that returns the real
nvidia-ml-py structures and raises the real `pynvml.NVMLError` subclasses; the AMD probe runs
real executables named rocm-smi that print rocm-smi's JSON (or hang, or print garbage).
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import warnings
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from rich.console import Console
from support.fake_nvml import FakeNVML

from harombe import hardware
from harombe.cli.doctor import DoctorReport, render, run_doctor
from harombe.config import HarombeConfig
from harombe.hardware import (
    GIB,
    GPU,
    HardwareInfo,
    detect,
    detect_amd,
    detect_apple,
    detect_async,
    detect_nvidia,
    load_nvml,
    recommend,
    run_command,
)
from harombe.inference.types import (
    Backend,
    BackendError,
    BackendHealth,
    ChatChunk,
    ChatRequest,
    EmbedRequest,
    EmbedResult,
    LoadedModel,
    ModelInfo,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # the deprecated `pynvml` distribution
    import pynvml

MIB = 1024**2


H100 = ("NVIDIA H100 80GB HBM3", 81559 * MIB, 81000 * MIB, 3)


def no_tool(_: str) -> None:
    return None


# --- this machine ----------------------------------------------------------------------------


def test_detect_on_this_machine_never_fails() -> None:
    info = detect()
    assert info.ram_total_bytes > 0 and info.ram_available_bytes > 0
    assert info.cores_logical >= info.cores_physical > 0
    assert info.hostname and info.arch and info.cpu_model
    assert info.usable_memory_bytes() > 0
    if info.kind == "cpu":
        assert not info.gpus and info.notes
    summary = info.summary()
    assert set(summary) == {"kind", "gpu", "gpus", "vram_gb", "ram_gb", "cores"}
    assert summary["ram_gb"] > 0


async def test_detect_async_runs_off_the_loop() -> None:
    info = await detect_async()
    assert isinstance(info, HardwareInfo)


# --- NVIDIA ----------------------------------------------------------------------------------


def test_nvidia_two_gpus() -> None:
    nvml = FakeNVML([H100, (b"NVIDIA GeForce RTX 4090", 24564 * MIB, 20000 * MIB, 97)])
    info = detect(nvml=nvml, which=no_tool, system="Linux", machine="x86_64")
    assert info.kind == "nvidia"
    assert info.gpus == [
        GPU(0, "nvidia", "NVIDIA H100 80GB HBM3", 81559 * MIB, 81000 * MIB, 3.0, "550.54.15"),
        GPU(1, "nvidia", "NVIDIA GeForce RTX 4090", 24564 * MIB, 20000 * MIB, 97.0, "550.54.15"),
    ]
    assert info.usable_memory_bytes() == (81559 + 24564) * MIB
    assert info.summary() == {
        "kind": "nvidia",
        "gpu": "NVIDIA H100 80GB HBM3",
        "gpus": 2,
        "vram_gb": 103.6,
        "ram_gb": round(info.ram_total_bytes / GIB, 1),
        "cores": info.cores_physical,
    }
    assert nvml.shutdowns == 1


def test_nvidia_library_not_found_falls_back_to_cpu() -> None:
    nvml = FakeNVML([H100], init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)
    info = detect(nvml=nvml, which=no_tool, system="Linux", machine="x86_64")
    assert info.kind == "cpu" and info.gpus == []
    assert any("NVML Shared Library Not Found" in n for n in info.notes)
    assert any("rocm-smi is not on PATH" in n for n in info.notes)


def test_nvidia_driver_not_loaded() -> None:
    notes: list[str] = []
    nvml = FakeNVML([H100], init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
    assert detect_nvidia(nvml, notes) == []
    assert "Driver Not Loaded" in notes[0]


def test_nvidia_device_error_skips_that_device() -> None:
    notes: list[str] = []
    nvml = FakeNVML([H100, H100, H100], broken=frozenset({1}), no_utilization=frozenset({2}))
    gpus = detect_nvidia(nvml, notes)
    assert [g.index for g in gpus] == [0, 2]
    assert gpus[1].utilization_pct is None and gpus[1].vram_total_bytes == H100[1]
    assert notes == ["NVIDIA: GPU 1 skipped (GPU is lost)"]
    assert nvml.shutdowns == 1


def test_nvidia_count_error_still_shuts_down() -> None:
    class CountFails(FakeNVML):
        def nvmlDeviceGetCount(self) -> int:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_UNKNOWN)

    notes: list[str] = []
    nvml = CountFails([H100])
    assert detect_nvidia(nvml, notes) == []
    assert notes == ["NVIDIA: cannot list GPUs (Unknown Error)"]
    assert nvml.shutdowns == 1


def test_pynvml_not_importable_falls_back_to_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)
    assert load_nvml() is None
    info = detect(which=no_tool, system="Linux", machine="x86_64")
    assert info.kind == "cpu"
    assert "NVIDIA: pynvml (nvidia-ml-py) is not installed" in info.notes


# --- AMD -------------------------------------------------------------------------------------

# `rocm-smi --showproductname --showmeminfo vram --json` (ROCm 6): a discrete card and an APU's
# 64 MiB carve-out, as reported on real machines.
ROCM_SMI_JSON = {
    "card0": {
        "VRAM Total Memory (B)": "21458059264",
        "VRAM Total Used Memory (B)": "27856896",
        "Card Series": "Radeon RX 7900 XT",
        "Card Model": "0x744c",
        "Card Vendor": "Advanced Micro Devices, Inc. [AMD/ATI]",
        "Card SKU": "D70401XT",
        "Subsystem ID": "0x471e",
        "Device Rev": "0xcc",
        "Node ID": "1",
        "GUID": "26967",
        "GFX Version": "gfx1100",
    },
    "card1": {
        "VRAM Total Memory (B)": "67108864",
        "VRAM Total Used Memory (B)": "26079232",
        "Card Series": "Raphael",
        "Card Model": "0x164e",
        "Card Vendor": "Advanced Micro Devices, Inc. [AMD/ATI]",
        "Card SKU": "RAPHAEL",
        "GFX Version": "gfx1036",
    },
}


@pytest.fixture
def rocm_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Install an executable `rocm-smi` with the given shell body as the only one on PATH."""

    def install(body: str) -> None:
        tool = tmp_path / "rocm-smi"
        tool.write_text(f"#!/bin/sh\n{body}\n")
        tool.chmod(0o755)
        monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")

    return install


def test_amd_real_json(rocm_smi, tmp_path: Path) -> None:
    (tmp_path / "out.json").write_text(json.dumps(ROCM_SMI_JSON, indent=4))
    rocm_smi(f'[ "$*" = "--showproductname --showmeminfo vram --json" ] && cat {tmp_path}/out.json')
    info = detect(nvml=None, system="Linux", machine="x86_64")
    assert info.kind == "amd"
    assert info.gpus == [GPU(0, "amd", "Radeon RX 7900 XT", 21458059264, 21458059264 - 27856896)]
    assert any("card1 (Raphael) ignored, 64 MiB" in n for n in info.notes)
    assert recommend(info).model == "qwen2.5:14b"


def test_amd_warning_before_json_and_older_key_spelling() -> None:
    out = "WARNING: AMD GPU device(s) is/are in a low-power state\n" + json.dumps(
        {"card3": {"VRAM Total Memory (B)": str(16 * GIB), "Card series": "Radeon Pro W6800"}}
    )
    notes: list[str] = []
    gpus = detect_amd(lambda args, timeout: out, lambda _: "/opt/rocm/bin/rocm-smi", notes)
    assert gpus == [GPU(3, "amd", "Radeon Pro W6800", 16 * GIB, 16 * GIB)]
    assert notes == []


@pytest.mark.parametrize(
    ("output", "note"),
    [
        ("Segmentation fault", "AMD: rocm-smi printed no JSON"),
        ("{not json", "AMD: rocm-smi printed no JSON"),
        ("{}", "AMD: rocm-smi listed no GPUs"),
        ('{"system": {"Driver version": "6.7.0"}}', "AMD: rocm-smi listed no GPUs"),
        ('{"card0": {"Card Series": "X"}}', "AMD: card0 has no readable VRAM total"),
        ('{"card0": {"VRAM Total Memory (B)": "N/A"}}', "AMD: card0 has no readable VRAM total"),
    ],
)
def test_amd_garbage(output: str, note: str) -> None:
    notes: list[str] = []
    assert detect_amd(lambda args, timeout: output, lambda _: "rocm-smi", notes) == []
    assert notes == [note]


def test_amd_tool_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    info = detect(nvml=None, system="Linux", machine="x86_64")
    assert info.kind == "cpu"
    assert "AMD: rocm-smi is not on PATH" in info.notes


def test_amd_tool_hangs(rocm_smi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hardware, "COMMAND_TIMEOUT_S", 0.2)
    rocm_smi("exec sleep 60")
    info = detect(nvml=None, system="Linux", machine="x86_64")
    assert info.kind == "cpu"
    assert any("gave no answer within 0.2 s" in n for n in info.notes)


def test_amd_tool_fails(rocm_smi) -> None:
    rocm_smi("echo 'ERROR: no devices' >&2; exit 2")
    info = detect(nvml=None, system="Linux", machine="x86_64")
    assert info.kind == "cpu"
    assert any("returned non-zero exit status 2" in n for n in info.notes)


def test_amd_tool_prints_garbage(rocm_smi) -> None:
    rocm_smi("echo '===== ROCm System Management Interface ====='")
    info = detect(nvml=None, system="Linux", machine="x86_64")
    assert info.kind == "cpu"
    assert "AMD: rocm-smi printed no JSON" in info.notes


# --- Apple Silicon ---------------------------------------------------------------------------


def sysctl(values: dict[str, str]):
    def run(args: Sequence[str], timeout: float) -> str:
        assert list(args[:2]) == ["sysctl", "-n"] and timeout > 0
        if args[2] not in values:
            raise subprocess.CalledProcessError(1, list(args))
        return values[args[2]] + "\n"

    return run


def test_apple_silicon() -> None:
    run = sysctl({"machdep.cpu.brand_string": "Apple M2 Max", "hw.memsize": str(64 * GIB)})
    info = detect(run=run, system="Darwin", machine="arm64")
    assert info.kind == "apple_silicon" and info.unified_memory
    assert info.cpu_model == "Apple M2 Max" and info.ram_total_bytes == 64 * GIB
    assert info.gpus == [GPU(0, "apple", "Apple M2 Max", int(64 * GIB * 0.7))]
    assert info.usable_memory_bytes() == int(64 * GIB * 0.7)
    assert recommend(info).model == "qwen2.5:32b-instruct-q8_0"


@pytest.mark.parametrize(
    ("values", "note"),
    [
        ({"machdep.cpu.brand_string": "Apple M1"}, "hw.memsize` failed"),
        ({"machdep.cpu.brand_string": "Apple M1", "hw.memsize": "lots"}, "not a number"),
    ],
)
def test_apple_sysctl_failures(values: dict[str, str], note: str) -> None:
    notes: list[str] = []
    assert detect_apple(sysctl(values), notes) is None
    assert note in notes[0]


def test_apple_sysctl_failure_falls_back_to_cpu() -> None:
    info = detect(run=sysctl({}), system="Darwin", machine="arm64")
    assert info.kind == "cpu" and not info.unified_memory


def test_run_command_real_process() -> None:
    assert run_command([sys.executable, "-c", "print('ok')"], 10) == "ok\n"
    with pytest.raises(subprocess.CalledProcessError):
        run_command([sys.executable, "-c", "raise SystemExit(3)"], 10)


# --- recommend -------------------------------------------------------------------------------


def machine(kind: str, *, vram_mib: Sequence[int] = (), ram_gib: float = 16) -> HardwareInfo:
    vendor = {"nvidia": "nvidia", "amd": "amd", "apple_silicon": "apple"}.get(kind, "nvidia")
    gpus = [GPU(i, vendor, "gpu", v * MIB) for i, v in enumerate(vram_mib)]  # type: ignore[arg-type]
    ram = int(ram_gib * GIB)
    return HardwareInfo(kind, "h", "Linux", "x86_64", "cpu", 8, 16, ram, ram, gpus)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("info", "model", "quant", "tier"),
    [
        (machine("cpu", ram_gib=4), "qwen2.5:1.5b", "q4_K_M", 0),
        (machine("cpu", ram_gib=8), "qwen2.5:3b", "q4_K_M", 0),
        (machine("cpu", ram_gib=11.9), "qwen2.5:3b", "q4_K_M", 0),
        (machine("cpu", ram_gib=12), "qwen2.5:7b", "q4_K_M", 0),
        (machine("nvidia", vram_mib=[8192]), "qwen2.5:7b", "q4_K_M", 0),
        (machine("nvidia", vram_mib=[12288]), "qwen2.5:14b", "q4_K_M", 1),
        (machine("nvidia", vram_mib=[24564]), "qwen2.5:14b", "q4_K_M", 1),  # RTX 4090
        (machine("amd", vram_mib=[24576]), "qwen2.5:32b", "q4_K_M", 1),  # RX 7900 XTX
        (machine("nvidia", vram_mib=[24564, 24564]), "qwen2.5:32b-instruct-q8_0", "q8_0", 2),
        (machine("nvidia", vram_mib=[81559]), "qwen2.5:72b", "q4_K_M", 2),  # H100
        (machine("nvidia", vram_mib=[143771]), "qwen2.5:72b-instruct-q8_0", "q8_0", 2),  # H200
        (machine("apple_silicon", ram_gib=16), "qwen2.5:7b", "q4_K_M", 0),
        (machine("apple_silicon", ram_gib=128), "qwen2.5:72b", "q4_K_M", 2),
    ],
)
def test_recommend(info: HardwareInfo, model: str, quant: str, tier: int) -> None:
    rec = recommend(info)
    assert (rec.model, rec.quant, rec.tier) == (model, quant, tier)
    assert rec.params_b > 0 and f"{info.usable_memory_bytes() / GIB:.1f} GiB usable" in rec.reason


def test_usable_memory_by_kind() -> None:
    assert machine("cpu", ram_gib=10).usable_memory_bytes() == 5 * GIB
    assert machine("apple_silicon", ram_gib=10).usable_memory_bytes() == 7 * GIB
    assert machine("nvidia", vram_mib=[1024, 2048]).usable_memory_bytes() == 3 * GIB


# --- doctor ----------------------------------------------------------------------------------


class TinyBackend:
    """A Backend answering from memory: what a reachable Ollama with two models would say."""

    kind = "ollama"

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        yield ChatChunk(content="hi", done=True, done_reason="stop")

    async def embed(self, request: EmbedRequest) -> EmbedResult:
        return EmbedResult(embeddings=[[1.0] for _ in request.inputs])

    async def list_models(self) -> list[ModelInfo]:
        return [
            ModelInfo("qwen2.5:3b", 1_929_912_432, "qwen2", "3.1B", "Q4_K_M"),
            ModelInfo("llama3.2:1b", 1_321_098_329, "llama", "1.2B", "Q8_0"),
        ]

    async def loaded_models(self) -> list[LoadedModel]:
        return [LoadedModel("qwen2.5:3b", 2_500_000_000, 2_500_000_000)]

    async def health(self) -> BackendHealth:
        return BackendHealth(ok=True, detail="ollama 0.6.2")

    async def aclose(self) -> None:
        pass


class RefusingBackend(TinyBackend):
    async def health(self) -> BackendHealth:
        raise BackendError("cannot connect to http://127.0.0.1:11434 [Connection refused]")


class UnhealthyBackend(TinyBackend):
    async def health(self) -> BackendHealth:
        return BackendHealth(ok=False, detail="HTTP 500 from /api/version")


class ListingFailsBackend(TinyBackend):
    async def list_models(self) -> list[ModelInfo]:
        raise ValueError("unexpected JSON from /api/tags")


class SilentBackend(TinyBackend):
    async def health(self) -> BackendHealth:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def rendered(report: DoctorReport) -> str:
    console = Console(file=io.StringIO(), width=160, color_system=None)
    render(report, console)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "Traceback" not in text
    return text


async def test_doctor_healthy_backend() -> None:
    backend = TinyBackend()
    assert isinstance(backend, Backend)
    report = await run_doctor(HarombeConfig(), backend)
    assert report.backend.reachable is True and report.backend.error is None
    assert [m.name for m in report.backend.models] == ["qwen2.5:3b", "llama3.2:1b"]
    text = rendered(report)
    assert "http://127.0.0.1:11434" in text and "reachable (ollama 0.6.2)" in text
    assert "qwen2.5:3b" in text and "llama3.2:1b" in text and "Q8_0" in text
    assert report.recommendation.model in text
    assert f"{report.hardware.ram_total_bytes / GIB:.1f} GiB total" in text
    data = json.loads(report.as_json())
    assert data["backend"]["models"][0]["name"] == "qwen2.5:3b"
    assert data["backend"]["loaded"][0]["size_vram"] == 2_500_000_000
    assert data["hardware"]["usable_memory_bytes"] == report.hardware.usable_memory_bytes()
    assert data["recommendation"]["model"] == report.recommendation.model


@pytest.mark.parametrize(
    ("backend", "reachable", "shown"),
    [
        (
            RefusingBackend(),
            False,
            "unreachable: BackendError: cannot connect to http://127.0.0.1:11434 "
            "[Connection refused]",
        ),
        (UnhealthyBackend(), False, "unreachable: HTTP 500 from /api/version"),
        (
            ListingFailsBackend(),
            True,
            "answers health checks, but: ValueError: unexpected JSON from /api/tags",
        ),
        (SilentBackend(), False, "unreachable: no answer within 0.05 s"),
    ],
)
async def test_doctor_failing_backend(backend: Backend, reachable: bool, shown: str) -> None:
    config = HarombeConfig.model_validate({"backend": {"url": "http://127.0.0.1:11434/"}})
    report = await run_doctor(config, backend, call_timeout_s=0.05)
    assert report.backend.reachable is reachable and report.backend.models == []
    text = rendered(report)
    assert shown in text and "ollama pull" not in text
    assert json.loads(report.as_json())["backend"]["error"]


async def test_doctor_without_backend() -> None:
    report = await run_doctor(HarombeConfig.model_validate({"backend": {"kind": "none"}}), None)
    assert report.backend.reachable is None and report.backend.url is None
    assert "none configured; this peer only routes" in rendered(report)


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS takes the Apple path")
async def test_doctor_shows_gpus_or_why_none(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    nvml = FakeNVML([H100], no_utilization=frozenset({0}))
    monkeypatch.setattr(hardware, "load_nvml", lambda: nvml)
    monkeypatch.setenv("PATH", str(tmp_path))
    report = await run_doctor(HarombeConfig(), None)
    live = json.loads(report.as_json())["live"]
    assert live["gpu_reader"] == "nvidia" and live["gpus"][0]["util"] is None
    assert live["gpus"][0]["vram_total_bytes"] == 81559 * MIB
    text = rendered(report)
    assert "GPU 0" in text and "NVIDIA H100 80GB HBM3, 79.6 GiB VRAM, 79.1 GiB free" in text
    hardware_panel, live_panel = text.split("live (gossiped)")
    assert "driver 550.54.15" in hardware_panel and "busy" not in hardware_panel
    assert "GPU 0  ? busy, 0.5 GiB of 79.6 GiB VRAM used" in live_panel  # utilisation unknown
    assert "qwen2.5:72b (72.7B, q4_K_M) as tier 2" in text

    nvml.init_error = pynvml.NVML_ERROR_LIBRARY_NOT_FOUND
    text = rendered(await run_doctor(HarombeConfig(), None))
    assert "no GPU detected" in text and "NVML Shared Library Not Found" in text

"""Live utilisation: the real sampling code over NVML's, rocm-smi's and ioreg's real formats
(only the driver boundary is faked: no GPU here), quantized, gossiped inside the load record,
withdrawn when stale, and refused when a peer sends nonsense."""

from __future__ import annotations

import asyncio
import json

import msgspec
import pytest
from support.fake_nvml import MIB, FakeNVML, pynvml

from harombe.cluster.record import NodeLoad, NodeRecord
from harombe.utilisation import (
    GpuUtilisation,
    Probe,
    Utilisation,
    UtilisationSampler,
    read_amd,
    read_apple,
    sample_once,
)

H200 = ("NVIDIA H200", 143771 * MIB, 100000 * MIB, 37)
L4 = ("NVIDIA L4", 23034 * MIB, 23000 * MIB, 0)


def no_tool(_: str) -> None:
    return None


def test_nvidia_sample_per_device_with_unknowns_as_none():
    nvml = FakeNVML([H200, L4, H200], no_utilization=frozenset({2}))
    probe = Probe(nvml=nvml, which=no_tool, system="Linux", machine="x86_64").open()
    assert probe.vendor == "nvidia" and nvml.initialized
    sample = probe.sample()
    assert sample.gpus == (
        GpuUtilisation(35, 43776, 143771),  # 37 % → 35 (5 % steps); used in 256 MiB steps
        GpuUtilisation(0, 0, 23034),  # idle is 0 — known — not unknown
        GpuUtilisation(None, 43776, 143771),  # utilisation not supported: unknown
    )
    assert sample.ram_total_mib and sample.ram_used_mib is not None
    probe.close()
    assert nvml.shutdowns == 1 and not nvml.initialized


def test_nvidia_lost_device_reads_as_unknown_and_no_driver_means_no_reader():
    nvml = FakeNVML([H200, H200], broken=frozenset({0}))
    sample = Probe(nvml=nvml, which=no_tool, system="Linux").open().sample()
    assert sample.gpus[0] == GpuUtilisation(None, None, None)
    assert sample.gpus[1].vram_total_mib == 143771
    missing = FakeNVML([H200], init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
    probe = Probe(nvml=missing, which=no_tool, system="Linux").open()
    assert probe.vendor == "none" and probe.sample().gpus == ()


ROCM = {
    "card0": {
        "GPU use (%)": "83",
        "VRAM Total Memory (B)": "21458059264",
        "VRAM Total Used Memory (B)": "17179869184",
        "Card Series": "Radeon RX 7900 XT",
    },
    "card1": {"GPU use (%)": "0", "VRAM Total Memory (B)": "67108864"},  # APU carve-out
    "card2": {"GPU use (%)": "N/A", "VRAM Total Memory (B)": "34342961152"},
}


def test_amd_from_rocm_smi_json():
    seen = []

    def run(args, timeout):
        seen.append(list(args))
        return "WARNING: low-power state\n" + json.dumps(ROCM)

    gpus = read_amd(run)
    assert "--showuse" in seen[0] and "--json" in seen[0]
    assert gpus == [GpuUtilisation(85, 16384, 20464), GpuUtilisation(None, None, 32752)]
    assert read_amd(lambda a, t: "Segmentation fault") == []


def test_apple_from_ioreg():
    out = (
        '+-o AGXAcceleratorG14X  <class AGXAcceleratorG14X>\n    "PerformanceStatistics" = '
        '{"In use system memory"=6442450944,"Device Utilization %"=42,"Renderer Utilization %"=40}'
    )
    [gpu] = read_apple(lambda args, timeout: out, 32 * 1024**3)
    assert gpu == GpuUtilisation(40, 6144, 22938)
    assert read_apple(lambda a, t: "nothing useful", 32 * 1024**3) == []


def test_sample_once_reads_this_machine():
    vendor, sample = sample_once(Probe(nvml=None, which=no_tool), settle=0.05)
    assert vendor == "none" and sample.gpus == ()
    assert 0 < sample.ram_used_mib <= sample.ram_total_mib  # type: ignore[operator]


def test_utilisation_travels_in_the_record_and_in_load_messages():
    u = Utilisation(40, 2048, 16384, (GpuUtilisation(35, 1024, 24576),))
    record = NodeRecord(name="a", address="127.0.0.1:1", utilisation=u)
    assert NodeRecord.from_raw(record.raw()).utilisation == u
    load = msgspec.msgpack.decode(msgspec.msgpack.encode(NodeLoad.of(record)), type=NodeLoad)
    assert load.utilisation == u
    assert len(msgspec.msgpack.encode(u)) < 24  # compact: gossiped with every load change
    old = NodeRecord(name="a", address="127.0.0.1:1")  # a peer that samples nothing
    assert NodeRecord.from_raw(old.raw()).utilisation is None


@pytest.mark.parametrize(
    "bad",
    [[300, 1, 2, []], [-1, 1, 2, []], ["x", 1, 2, []], [1, 2, 3, [[1, 2, 3]] * 17], {"cpu": 1}],
)
def test_a_peer_sending_nonsense_utilisation_is_refused(bad):
    wire = NodeRecord(name="a", address="127.0.0.1:1").to_wire() | {"utilisation": bad}
    with pytest.raises(ValueError):
        NodeRecord.from_wire(wire)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


class CountingProbe(Probe):
    def __init__(self) -> None:
        super().__init__(nvml=None, which=no_tool)
        self.samples = 0

    def sample(self) -> Utilisation:
        self.samples += 1
        return Utilisation(self.samples, 1, 2)


async def test_sampler_runs_off_the_loop_and_withdraws_a_stale_sample():
    clock = Clock()
    probe = CountingProbe()
    sampler = UtilisationSampler(probe, interval=0.01, stale_after=3, clock=clock)
    await sampler.start()
    try:
        assert sampler.current() == Utilisation(1, 1, 2) and sampler.age() == 0
        done = asyncio.Event()
        sampler.on_sample = lambda: done.set() if probe.samples >= 3 else None
        await asyncio.wait_for(done.wait(), 10)
        clock.now += 0.031  # the sampler is stuck for over 3 intervals
        assert sampler.current() is None and sampler.age() == pytest.approx(0.031)
    finally:
        await sampler.aclose()


async def test_only_moves_past_the_deadband_are_gossiped():
    clock = Clock()
    probe = CountingProbe()
    sampler = UtilisationSampler(probe, interval=1, deadband_pct=10, deadband_mib=1024, clock=clock)
    samples = iter(
        [
            Utilisation(40, 4096, 16384, (GpuUtilisation(30, 8192, 24576),)),
            Utilisation(45, 4352, 16384, (GpuUtilisation(35, 8448, 24576),)),  # noise
            Utilisation(45, 4352, 16384, (GpuUtilisation(35, 9472, 24576),)),  # +1 GiB VRAM
            Utilisation(45, 4352, 16384, (GpuUtilisation(None, 9472, 24576),)),  # now unknown
        ]
    )
    probe.sample = lambda: next(samples)  # type: ignore[method-assign]
    gossiped = []
    for _ in range(4):
        await sampler.sample_now()
        gossiped.append(sampler.gossiped())
    assert gossiped[1] == gossiped[0]  # 5 points and 256 MiB: not news
    assert gossiped[2].gpus[0].vram_used_mib == 9472
    assert gossiped[3].gpus[0].util_pct is None
    clock.now += 10  # the sampler stopped: nothing is gossiped rather than old numbers
    assert sampler.gossiped() is None


async def test_gossip_interval_grows_with_the_cluster():
    clock = Clock()
    probe = CountingProbe()  # cpu_pct = 1, 2, 3, ... one per sample
    sampler = UtilisationSampler(
        probe, interval=1, stale_after=1000, deadband_pct=1, min_interval=10,
        interval_per_peer=2, clock=clock,
    )  # fmt: skip
    await sampler.sample_now()
    assert sampler.gossiped(peers=20).cpu_pct == 1
    clock.now = 39.0
    await sampler.sample_now()
    assert sampler.gossiped(peers=20).cpu_pct == 1  # moved, but 20 peers: every 40 s at most
    assert sampler.gossiped(peers=3).cpu_pct == 2  # 3 peers: the 10 s floor has passed
    clock.now = 80.0
    await sampler.sample_now()
    assert sampler.gossiped(peers=20).cpu_pct == 3

"""NVML's Python surface for GPUs that are not here (no NVIDIA GPU in CI): the real
nvidia-ml-py structures and the real `pynvml.NVMLError` subclasses, so the code under test
runs its real path and only the driver call is faked."""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # the deprecated `pynvml` distribution
    import pynvml

MIB = 1024**2


class FakeNVML:
    """NVML's Python surface for GPUs that are not here; errors are pynvml's own classes."""

    NVMLError = pynvml.NVMLError

    def __init__(
        self,
        gpus: list[tuple[str | bytes, int, int, int]],
        *,
        init_error: int | None = None,
        broken: frozenset[int] = frozenset(),
        no_utilization: frozenset[int] = frozenset(),
    ) -> None:
        self.gpus = gpus
        self.init_error = init_error
        self.broken = broken
        self.no_utilization = no_utilization
        self.references = 0
        self.shutdowns = 0

    @property
    def initialized(self) -> bool:
        return self.references > 0

    def nvmlInit(self) -> None:
        """Like NVML's, reference-counted: each init needs its own shutdown, so two threads
        (hardware detection and the live sampler) can each init and shut down safely."""
        if self.init_error is not None:
            raise pynvml.NVMLError(self.init_error)
        self.references += 1

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1
        self.references = max(0, self.references - 1)

    def nvmlSystemGetDriverVersion(self) -> str:
        return "550.54.15"

    def nvmlDeviceGetCount(self) -> int:
        assert self.initialized
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        if index in self.broken:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)
        return index

    def nvmlDeviceGetName(self, handle: int) -> str | bytes:
        return self.gpus[handle][0]

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> pynvml.c_nvmlMemory_t:
        _, total, free, _ = self.gpus[handle]
        return pynvml.c_nvmlMemory_t(total=total, free=free, used=total - free)

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> pynvml.c_nvmlUtilization_t:
        if handle in self.no_utilization:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return pynvml.c_nvmlUtilization_t(gpu=self.gpus[handle][3], memory=0)

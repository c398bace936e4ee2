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
        self.initialized = False
        self.shutdowns = 0

    def nvmlInit(self) -> None:
        if self.init_error is not None:
            raise pynvml.NVMLError(self.init_error)
        self.initialized = True

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1
        self.initialized = False

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

"""NVIDIA GPU metrics from NVML (``nvidia-ml-py``), named by the hardware
semantic conventions: ``hw.gpu.utilization``, ``hw.gpu.memory.usage``,
``hw.gpu.memory.limit``, ``hw.gpu.memory.utilization``, and ``hw.temperature``
and ``hw.power`` with ``hw.type=gpu``. One series per device, identified by
``hw.id`` (the GPU's UUID), ``hw.name`` (``gpu<index>``), ``hw.model`` and
``hw.vendor``.

NVML is read only by observable callbacks, at collection time: no thread, no
work on the request path. Without the library, its driver or a GPU there are
no GPU metrics and one INFO line, never an error.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml.resources._providers import once_per_provider, resolve
from otel_ml.version import __version__

__all__ = ["GpuDevice", "GpuReader", "enable_gpu_metrics", "open_gpus"]

_logger = logging.getLogger("otel_ml")
_lock = threading.Lock()
_opened: tuple[ModuleType, list[GpuDevice]] | None = None
_unavailable: str | None = None

Read = Callable[[ModuleType, Any], "float | None"]


@dataclass(frozen=True)
class GpuDevice:
    """One GPU: its NVML handle and the attributes of its series."""

    handle: Any
    attributes: dict[str, str]


def enable_gpu_metrics(meter_provider: metrics.MeterProvider | None = None) -> bool:
    """Export NVIDIA GPU metrics through ``meter_provider`` (default: global).

    ``True`` when this call turned them on; ``False`` when they were on already
    for this provider or no GPU can be read (logged once at INFO).
    """
    found = open_gpus()
    if found is None:
        return False
    nvml, devices = found
    return once_per_provider(
        "gpu", resolve(meter_provider), lambda provider: GpuReader(nvml, devices, provider)
    )


def open_gpus() -> tuple[ModuleType, list[GpuDevice]] | None:
    """Initialise NVML once per process and list the GPUs; ``None`` when there
    is no library, driver or GPU."""
    global _opened, _unavailable
    with _lock:
        if _opened is None and _unavailable is None:
            try:
                _opened = _open()
            except _Unavailable as why:
                _unavailable = str(why)
                _logger.info("otel_ml: no GPU metrics: %s", why)
        return _opened


class _Unavailable(Exception):
    pass


def _open() -> tuple[ModuleType, list[GpuDevice]]:
    try:
        pynvml = importlib.import_module("pynvml")  # nvidia-ml-py: optional, untyped
    except ImportError:
        raise _Unavailable("nvidia-ml-py is not installed (pip install 'otel-ml[gpu]')") from None
    try:
        pynvml.nvmlInit()
        devices = [_device(pynvml, index) for index in range(pynvml.nvmlDeviceGetCount())]
    except pynvml.NVMLError as exc:
        raise _Unavailable(f"NVML cannot be used (no NVIDIA driver or GPU?): {exc}") from None
    if not devices:
        raise _Unavailable("NVML found no GPU")
    return pynvml, devices


def _device(nvml: ModuleType, index: int) -> GpuDevice:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    return GpuDevice(
        handle,
        {
            semconv.HW_ID: _text(nvml.nvmlDeviceGetUUID(handle)),
            semconv.HW_NAME: f"gpu{index}",
            semconv.HW_MODEL: _text(nvml.nvmlDeviceGetName(handle)),
            semconv.HW_VENDOR: "NVIDIA",
        },
    )


def _text(value: str | bytes) -> str:
    # nvidia-ml-py returned bytes before 11.5.
    return value.decode() if isinstance(value, bytes) else value


class GpuReader:
    """The GPU instruments on one meter provider, reading NVML per collection."""

    def __init__(
        self, nvml: ModuleType, devices: list[GpuDevice], meter_provider: metrics.MeterProvider
    ) -> None:
        self._nvml = nvml
        self._devices = devices
        meter = metrics.get_meter("otel_ml", __version__, meter_provider=meter_provider)
        self._errors = guard.internal_errors_counter(meter)
        general = {semconv.HW_GPU_TASK: "general"}
        gpu = {semconv.HW_TYPE: semconv.HW_TYPE_GPU}
        for name, kind, unit, read, extra, description in (
            (semconv.HW_GPU_UTILIZATION, "gauge", "1", _utilization, general,
             "Fraction of time the GPU was busy."),
            (semconv.HW_GPU_MEMORY_USAGE, "updown", "By", _memory_used, {}, "GPU memory used."),
            (semconv.HW_GPU_MEMORY_LIMIT, "updown", "By", _memory_total, {},
             "Size of the GPU memory."),
            (semconv.HW_GPU_MEMORY_UTILIZATION, "gauge", "1", _memory_fraction, {},
             "Fraction of GPU memory used."),
            (semconv.HW_TEMPERATURE, "gauge", "Cel", _temperature, gpu,
             "Temperature in degrees Celsius."),
            (semconv.HW_POWER, "gauge", "W", _power, gpu,
             "Instantaneous power consumed by the component."),
        ):  # fmt: skip
            create = (
                meter.create_observable_gauge
                if kind == "gauge"
                else meter.create_observable_up_down_counter
            )
            create(
                name, callbacks=[self._callback(read, extra)], unit=unit, description=description
            )

    def _callback(
        self, read: Read, extra: dict[str, str]
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(_options: CallbackOptions) -> Iterable[Observation]:
            out = []
            for device in self._devices:
                value = self._read(read, device)
                if value is not None:
                    out.append(Observation(value, {**device.attributes, **extra}))
            return out

        return observe

    def _read(self, read: Read, device: GpuDevice) -> float | None:
        try:
            return read(self._nvml, device.handle)
        except self._nvml.NVMLError as exc:
            # Not a bug of ours: some boards lack a sensor (NotSupported) or a
            # GPU fell off the bus. The value is unknown, so it is not reported.
            _logger.debug("otel_ml: NVML reading failed for %s: %s", device.attributes, exc)
            return None
        except Exception as exc:
            guard.report("resources.gpu", exc, self._errors)
            return None


def _utilization(nvml: ModuleType, handle: Any) -> float:
    return float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu) / 100


def _memory_used(nvml: ModuleType, handle: Any) -> int:
    return int(nvml.nvmlDeviceGetMemoryInfo(handle).used)


def _memory_total(nvml: ModuleType, handle: Any) -> int:
    return int(nvml.nvmlDeviceGetMemoryInfo(handle).total)


def _memory_fraction(nvml: ModuleType, handle: Any) -> float | None:
    memory = nvml.nvmlDeviceGetMemoryInfo(handle)
    return memory.used / memory.total if memory.total else None


def _temperature(nvml: ModuleType, handle: Any) -> float:
    return float(nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))


def _power(nvml: ModuleType, handle: Any) -> float:
    return float(nvml.nvmlDeviceGetPowerUsage(handle)) / 1000  # NVML reports milliwatts

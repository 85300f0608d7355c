"""GPU metrics. No GPU here: the NVML boundary (the ``pynvml`` module) is
absent, broken, or replaced by a stand-in module with the same functions, so
the device listing, unit conversions and attributes run for real."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from support import Telemetry

from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml.resources import gpu
from otel_ml.resources.gpu import enable_gpu_metrics

GPU_METRICS = {
    semconv.HW_GPU_UTILIZATION: "1",
    semconv.HW_GPU_MEMORY_USAGE: "By",
    semconv.HW_GPU_MEMORY_LIMIT: "By",
    semconv.HW_GPU_MEMORY_UTILIZATION: "1",
    semconv.HW_TEMPERATURE: "Cel",
    semconv.HW_POWER: "W",
}


class NVMLError(Exception):
    pass


class NVMLErrorNotSupported(NVMLError):
    pass


@dataclass
class Board:
    uuid: str
    name: str | bytes
    busy_percent: int
    used: int
    total: int
    celsius: int
    milliwatts: int | None  # None: no power sensor (NVML says NotSupported)


def nvml_module(boards: list[Board], init_error: NVMLError | None = None) -> ModuleType:
    """A module with the pynvml functions otel_ml calls, answering for ``boards``."""
    nvml = ModuleType("pynvml")

    def init() -> None:
        if init_error is not None:
            raise init_error

    def power(board: Board) -> int:
        if board.milliwatts is None:
            raise NVMLErrorNotSupported("Not Supported")
        return board.milliwatts

    def temperature(board: Board, sensor: int) -> int:
        assert sensor == nvml.NVML_TEMPERATURE_GPU
        return board.celsius

    nvml.__dict__.update(
        NVMLError=NVMLError,
        NVML_TEMPERATURE_GPU=0,
        nvmlInit=init,
        nvmlDeviceGetCount=lambda: len(boards),
        nvmlDeviceGetHandleByIndex=lambda index: boards[index],
        nvmlDeviceGetUUID=lambda board: board.uuid,
        nvmlDeviceGetName=lambda board: board.name,
        nvmlDeviceGetUtilizationRates=lambda b: SimpleNamespace(gpu=b.busy_percent, memory=0),
        nvmlDeviceGetMemoryInfo=lambda b: SimpleNamespace(used=b.used, total=b.total),
        nvmlDeviceGetTemperature=temperature,
        nvmlDeviceGetPowerUsage=power,
    )
    return nvml


@pytest.fixture(autouse=True)
def _fresh_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    # NVML is opened once per process; each test starts before that.
    monkeypatch.setattr(gpu, "_opened", None)
    monkeypatch.setattr(gpu, "_unavailable", None)


def _info_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "otel_ml"]


def test_without_nvidia_ml_py_there_are_no_gpu_metrics_and_one_info_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, telemetry: Telemetry
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml -> ImportError
    caplog.set_level(logging.INFO, logger="otel_ml")

    first = enable_gpu_metrics(telemetry.meter_provider)
    second = enable_gpu_metrics(telemetry.meter_provider)

    assert (first, second) == (False, False)
    assert telemetry.metrics() == {}
    assert _info_lines(caplog) == [
        "otel_ml: no GPU metrics: nvidia-ml-py is not installed (pip install 'otel-ml[gpu]')"
    ]
    assert [r.levelname for r in caplog.records] == ["INFO"]
    assert guard.error_count() == 0


def test_without_driver_or_gpu_there_are_no_gpu_metrics_and_one_info_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, telemetry: Telemetry
) -> None:
    broken = nvml_module([], init_error=NVMLError("NVML Shared Library Not Found"))
    monkeypatch.setitem(sys.modules, "pynvml", broken)
    caplog.set_level(logging.INFO, logger="otel_ml")

    assert enable_gpu_metrics(telemetry.meter_provider) is False
    assert enable_gpu_metrics(telemetry.meter_provider) is False

    assert telemetry.metrics() == {}
    assert _info_lines(caplog) == [
        "otel_ml: no GPU metrics: NVML cannot be used (no NVIDIA driver or GPU?): "
        "NVML Shared Library Not Found"
    ]


def test_driver_without_gpus_gives_no_metrics(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, telemetry: Telemetry
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", nvml_module([]))
    caplog.set_level(logging.INFO, logger="otel_ml")

    assert enable_gpu_metrics(telemetry.meter_provider) is False

    assert telemetry.metrics() == {}
    assert _info_lines(caplog) == ["otel_ml: no GPU metrics: NVML found no GPU"]


def test_every_gpu_metric_per_device_with_hardware_attributes(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, telemetry: Telemetry
) -> None:
    boards = [
        Board("GPU-aaaa", "NVIDIA H100 80GB HBM3", 87, 60 * 2**30, 80 * 2**30, 71, 412_500),
        Board("GPU-bbbb", b"Tesla T4", 0, 0, 16 * 2**30, 38, None),
    ]
    monkeypatch.setitem(sys.modules, "pynvml", nvml_module(boards))
    caplog.set_level(logging.INFO, logger="otel_ml")

    assert enable_gpu_metrics(telemetry.meter_provider) is True
    assert enable_gpu_metrics(telemetry.meter_provider) is False

    found = telemetry.metrics()
    assert {name: metric.unit for name, metric in found.items()} == GPU_METRICS
    h100 = {
        semconv.HW_ID: "GPU-aaaa",
        semconv.HW_NAME: "gpu0",
        semconv.HW_MODEL: "NVIDIA H100 80GB HBM3",
        semconv.HW_VENDOR: "NVIDIA",
    }
    t4 = {**h100, semconv.HW_ID: "GPU-bbbb", semconv.HW_NAME: "gpu1", semconv.HW_MODEL: "Tesla T4"}
    general = {semconv.HW_GPU_TASK: "general"}
    as_gpu = {semconv.HW_TYPE: "gpu"}

    def points(name: str) -> list[tuple[dict[str, Any], float]]:
        return sorted(
            ((dict(p.attributes), p.value) for p in found[name].data.data_points),
            key=lambda item: str(item[0][semconv.HW_ID]),
        )

    assert points(semconv.HW_GPU_UTILIZATION) == [
        ({**h100, **general}, 0.87),
        ({**t4, **general}, 0.0),
    ]
    assert points(semconv.HW_GPU_MEMORY_USAGE) == [(h100, 60 * 2**30), (t4, 0)]
    assert points(semconv.HW_GPU_MEMORY_LIMIT) == [(h100, 80 * 2**30), (t4, 16 * 2**30)]
    assert points(semconv.HW_GPU_MEMORY_UTILIZATION) == [(h100, 0.75), (t4, 0.0)]
    assert points(semconv.HW_TEMPERATURE) == [({**h100, **as_gpu}, 71.0), ({**t4, **as_gpu}, 38.0)]
    assert points(semconv.HW_POWER) == [({**h100, **as_gpu}, 412.5)]  # the T4 has no sensor
    assert _info_lines(caplog) == []
    assert guard.error_count() == 0


def test_gpu_readings_are_taken_at_each_collection(
    monkeypatch: pytest.MonkeyPatch, telemetry: Telemetry
) -> None:
    board = Board("GPU-cccc", "NVIDIA A10", 10, 2**30, 24 * 2**30, 40, 60_000)
    monkeypatch.setitem(sys.modules, "pynvml", nvml_module([board]))
    enable_gpu_metrics(telemetry.meter_provider)

    first = telemetry.points(semconv.HW_GPU_MEMORY_USAGE)
    board.used = 23 * 2**30
    second = telemetry.points(semconv.HW_GPU_MEMORY_USAGE)

    assert [p.value for _, p in first + second] == [2**30, 23 * 2**30]


def test_a_bug_in_reading_goes_to_the_guard(
    monkeypatch: pytest.MonkeyPatch, telemetry: Telemetry
) -> None:
    board = Board("GPU-dddd", "NVIDIA L4", 10, 2**30, 24 * 2**30, 40, 60_000)
    nvml = nvml_module([board])
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    enable_gpu_metrics(telemetry.meter_provider)
    # An answer of a shape otel_ml does not expect (not an NVML error).
    nvml.nvmlDeviceGetUtilizationRates = lambda handle: None
    guard.set_strict(False)

    found = telemetry.metrics()  # one collection

    def values(name: str) -> list[tuple[dict[str, Any], Any]]:
        return [(dict(p.attributes), p.value) for p in found[name].data.data_points]

    assert semconv.HW_GPU_UTILIZATION not in found  # the failed reading only
    assert values(semconv.OTEL_ML_INTERNAL_ERRORS) == [({"component": "resources.gpu"}, 1)]
    assert [v for _, v in values(semconv.HW_GPU_MEMORY_USAGE)] == [2**30]

"""Process metrics: CPU, memory, threads, file descriptors, GC and the memory limit.

Most come from ``opentelemetry-instrumentation-system-metrics``, restricted to
its ``process.*`` and ``cpython.gc.collections`` metrics. Two are added here:
``process.unix.file_descriptor.count`` (the contrib package still emits the
deprecated ``process.open_file_descriptor.count``) and the cgroup memory limit,
so "memory near limit" can be alerted on from the process's own series. Every
value is read by an observable callback at collection time.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml._internal.registry import reset_after_fork
from otel_ml.resources._providers import once_per_provider, resolve
from otel_ml.version import __version__

__all__ = [
    "CONTRIB_PROCESS_METRICS",
    "ProcessReader",
    "enable_process_metrics",
    "read_cgroup_memory_limit",
]

_logger = logging.getLogger("otel_ml")

CONTRIB_PROCESS_METRICS: dict[str, list[str] | None] = {
    "process.cpu.time": ["user", "system"],
    "process.cpu.utilization": None,
    "process.memory.usage": None,
    "process.memory.virtual": None,
    "process.thread.count": None,
    "cpython.gc.collections": None,
}
"""The ``config`` given to the contrib ``SystemMetricsInstrumentor``."""

# cgroup v2 writes "max"; v1 writes a page-rounded 2**63 - 1 when unlimited.
_UNLIMITED = 1 << 62
_CGROUP_FILES = ("memory.max", "memory/memory.limit_in_bytes")


def enable_process_metrics(meter_provider: metrics.MeterProvider | None = None) -> bool:
    """Export this process's metrics through ``meter_provider`` (default: global).

    Idempotent per provider; ``True`` when this call turned them on. Without
    ``opentelemetry-instrumentation-system-metrics`` only the metrics built here
    are exported, and one INFO line says why.
    """
    return once_per_provider("process", resolve(meter_provider), _build)


def read_cgroup_memory_limit(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """The memory limit of this process's cgroup in bytes; ``None`` when unlimited
    or unknown. Inside a container ``root`` is the container's own cgroup."""
    for name in _CGROUP_FILES:
        try:
            raw = (root / name).read_text().strip()
        except OSError:
            continue
        if raw == "max" or not raw.isdigit() or int(raw) >= _UNLIMITED:
            return None
        return int(raw)
    return None


def _build(meter_provider: metrics.MeterProvider) -> list[Any]:
    built: list[Any] = [ProcessReader(meter_provider)]
    contrib = _contrib_instrumentor()
    if contrib is not None:
        contrib.instrument(meter_provider=meter_provider)
        built.append(contrib)
    return built


def _contrib_instrumentor() -> Any:
    try:
        import psutil  # type: ignore[import-untyped]
        from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor
    except ImportError as exc:
        _logger.info(
            "otel_ml: CPU, memory, thread and GC metrics are off: %s "
            "(pip install opentelemetry-instrumentation-system-metrics)",
            exc,
        )
        return None

    class ProcessMetricsInstrumentor(SystemMetricsInstrumentor):
        # The base class is a process-wide singleton that the launcher may
        # already have instrumented with its own configuration; one instance
        # per meter provider here leaves that one alone. Same-named instruments
        # on one provider are merged by the SDK, so nothing is exported twice.
        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            return object.__new__(cls)

    instrumentor = ProcessMetricsInstrumentor(config=dict(CONTRIB_PROCESS_METRICS))
    # It reads the psutil.Process of the pid it was built in: a forked worker
    # would report its parent.
    reset_after_fork(instrumentor, lambda owner: setattr(owner, "_proc", psutil.Process()))
    return instrumentor


class ProcessReader:
    """The process metrics the contrib package lacks, read at collection time."""

    def __init__(
        self, meter_provider: metrics.MeterProvider, cgroup_root: Path = Path("/sys/fs/cgroup")
    ) -> None:
        self._cgroup_root = cgroup_root
        meter = metrics.get_meter("otel_ml", __version__, meter_provider=meter_provider)
        self._errors = guard.internal_errors_counter(meter)
        if sys.platform != "win32":
            meter.create_observable_up_down_counter(
                semconv.PROCESS_UNIX_FILE_DESCRIPTOR_COUNT,
                callbacks=[self._file_descriptors],
                unit="{file_descriptor}",
                description="Number of UNIX file descriptors in use by the process.",
            )
        meter.create_observable_up_down_counter(
            semconv.OTEL_ML_CGROUP_MEMORY_LIMIT,
            callbacks=[self._memory_limit],
            unit="By",
            description="Memory limit of the process's cgroup (container); absent when unlimited.",
        )

    def _file_descriptors(self, _options: CallbackOptions) -> Iterable[Observation]:
        try:
            return [Observation(len(os.listdir(_FD_DIR)))]
        except FileNotFoundError:
            return []  # no /proc (macOS): the count is unknown, not zero
        except Exception as exc:
            guard.report("resources.process", exc, self._errors)
            return []

    def _memory_limit(self, _options: CallbackOptions) -> Iterable[Observation]:
        try:
            limit = read_cgroup_memory_limit(self._cgroup_root)
        except Exception as exc:
            guard.report("resources.process", exc, self._errors)
            return []
        return [] if limit is None else [Observation(limit)]


_FD_DIR = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"

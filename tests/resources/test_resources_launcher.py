"""Zero-code: the launcher's otel_ml_resources entry point exports process metrics."""

from __future__ import annotations

from pathlib import Path

import pytest
from launcher import console_metrics, run_launched

from otel_ml import semconv

SCRIPT = """\
import gc
gc.collect()
print("DONE")
"""


@pytest.mark.subprocess
def test_launcher_exports_process_metrics(tmp_path: Path) -> None:
    result = run_launched(
        tmp_path,
        SCRIPT,
        OTEL_TRACES_EXPORTER="none",
        OTEL_METRICS_EXPORTER="console",
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="system_metrics",  # only ours, to test ours
    )
    assert result.returncode == 0, result.stderr
    assert "DONE" in result.stdout
    metrics = console_metrics(result.stdout)
    for name in (
        semconv.PROCESS_CPU_TIME,
        semconv.PROCESS_MEMORY_USAGE,
        semconv.PROCESS_THREAD_COUNT,
        semconv.PROCESS_UNIX_FILE_DESCRIPTOR_COUNT,
        semconv.CPYTHON_GC_COLLECTIONS,
    ):
        assert metrics.get(name), f"{name} missing from {sorted(metrics)}"
    [rss] = metrics[semconv.PROCESS_MEMORY_USAGE]
    assert rss["value"] > 10 * 2**20  # a Python process with numpy loaded uses tens of MiB


@pytest.mark.subprocess
def test_launcher_resources_can_be_switched_off(tmp_path: Path) -> None:
    result = run_launched(
        tmp_path,
        SCRIPT,
        OTEL_TRACES_EXPORTER="none",
        OTEL_METRICS_EXPORTER="console",
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="system_metrics",
        OTEL_ML_PROCESS_METRICS="false",
    )
    assert result.returncode == 0, result.stderr
    assert semconv.PROCESS_MEMORY_USAGE not in console_metrics(result.stdout)

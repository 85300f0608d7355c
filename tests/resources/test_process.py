"""Process metrics through a real SDK reader: names, units, types and values."""

from __future__ import annotations

import gc
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import psutil
import pytest
from opentelemetry.sdk.metrics.export import Gauge, Sum
from otlp_receiver import HttpReceiver
from support import Telemetry

from otel_ml import semconv
from otel_ml._internal import guard
from otel_ml.config import Settings
from otel_ml.resources import enable_process_metrics, enable_resource_metrics
from otel_ml.resources.process import ProcessReader, read_cgroup_memory_limit

# name -> (unit, instrument kind, monotonic)
EXPECTED = {
    semconv.PROCESS_CPU_TIME: ("s", Sum, True),
    semconv.PROCESS_CPU_UTILIZATION: ("1", Gauge, None),
    semconv.PROCESS_MEMORY_USAGE: ("By", Sum, False),
    semconv.PROCESS_MEMORY_VIRTUAL: ("By", Sum, False),
    semconv.PROCESS_THREAD_COUNT: ("", Sum, False),
    semconv.PROCESS_UNIX_FILE_DESCRIPTOR_COUNT: ("{file_descriptor}", Sum, False),
    semconv.CPYTHON_GC_COLLECTIONS: ("{collection}", Sum, True),
}


def _values(telemetry: Telemetry) -> dict[str, Any]:
    """Metric name -> {frozenset(attributes): value} from one collection."""
    return {
        name: {frozenset(p.attributes.items()): p.value for p in metric.data.data_points}
        for name, metric in telemetry.metrics().items()
    }


def test_process_metrics_have_semconv_names_units_and_values(telemetry: Telemetry) -> None:
    assert enable_process_metrics(telemetry.meter_provider) is True
    me = psutil.Process()

    found = telemetry.metrics()
    values = _values(telemetry)

    limit = read_cgroup_memory_limit()
    expected_names = set(EXPECTED) | ({semconv.OTEL_ML_CGROUP_MEMORY_LIMIT} if limit else set())
    assert set(found) == expected_names  # no system.*, no deprecated process.runtime.*
    for name, (unit, kind, monotonic) in EXPECTED.items():
        metric = found[name]
        assert (metric.unit, type(metric.data)) == (unit, kind), name
        if monotonic is not None:
            assert metric.data.is_monotonic is monotonic, name
    cpu = values[semconv.PROCESS_CPU_TIME]
    assert set(cpu) == {frozenset({("type", "user")}), frozenset({("type", "system")})}
    assert cpu[frozenset({("type", "user")})] == pytest.approx(me.cpu_times().user, abs=1.0)
    [utilization] = values[semconv.PROCESS_CPU_UTILIZATION].values()
    # contrib 0.66 reports psutil's cpu_percent / 100, not divided by the CPU count;
    # over the few milliseconds between two readings on a busy machine psutil's
    # ratio can pass the CPU count, so only its sign and finiteness are checked.
    assert utilization >= 0.0 and math.isfinite(utilization)
    [rss] = values[semconv.PROCESS_MEMORY_USAGE].values()
    assert rss == pytest.approx(me.memory_info().rss, rel=0.2)
    [threads] = values[semconv.PROCESS_THREAD_COUNT].values()
    assert threads == me.num_threads()
    [fds] = values[semconv.PROCESS_UNIX_FILE_DESCRIPTOR_COUNT].values()
    assert fds == pytest.approx(me.num_fds(), abs=1)
    generations = {dict(k)["cpython.gc.generation"] for k in values[semconv.CPYTHON_GC_COLLECTIONS]}
    assert generations == {0, 1, 2}
    assert guard.error_count() == 0


def test_readings_follow_the_process(telemetry: Telemetry) -> None:
    enable_process_metrics(telemetry.meter_provider)

    def gen2(values: dict[str, Any]) -> int:
        return int(next(v for k, v in values.items() if ("cpython.gc.generation", 2) in k))

    gc.collect()  # files and sockets earlier tests leaked close now, not mid-measurement
    before = _values(telemetry)
    with tempfile.TemporaryFile() as a, tempfile.TemporaryFile() as b, tempfile.TemporaryFile():
        gc.collect()
        during = _values(telemetry)
        assert a.fileno() != b.fileno()
    after = _values(telemetry)

    fd = semconv.PROCESS_UNIX_FILE_DESCRIPTOR_COUNT
    [fds_before], [fds_during], [fds_after] = (v[fd].values() for v in (before, during, after))
    assert (fds_during - fds_before, fds_after) == (3, fds_before)
    collections = semconv.CPYTHON_GC_COLLECTIONS
    assert gen2(during[collections]) >= gen2(before[collections]) + 1


def test_enabling_twice_for_one_provider_registers_once(telemetry: Telemetry) -> None:
    assert enable_process_metrics(telemetry.meter_provider) is True
    assert enable_process_metrics(telemetry.meter_provider) is False
    enable_resource_metrics(telemetry.meter_provider, Settings.load(environ={}))

    points = telemetry.points(semconv.PROCESS_MEMORY_USAGE)

    assert len(points) == 1


def test_settings_opt_out_turns_every_resource_metric_off(telemetry: Telemetry) -> None:
    off = Settings.load(environ={"OTEL_ML_PROCESS_METRICS": "false", "OTEL_ML_GPU_METRICS": "0"})

    enable_resource_metrics(telemetry.meter_provider, off)

    assert telemetry.metrics() == {}


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"memory.max": "536870912\n"}, 536870912),
        ({"memory.max": "max\n"}, None),
        ({"memory/memory.limit_in_bytes": "1073741824\n"}, 1073741824),
        ({"memory/memory.limit_in_bytes": "9223372036854771712\n"}, None),
        ({"memory.max": "garbage"}, None),
        ({}, None),
    ],
)
def test_cgroup_memory_limit_v1_and_v2(
    tmp_path: Path, files: dict[str, str], expected: int | None
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)

    assert read_cgroup_memory_limit(tmp_path) == expected


def test_cgroup_memory_limit_is_exported_when_set(tmp_path: Path, telemetry: Telemetry) -> None:
    (tmp_path / "memory.max").write_text("2147483648\n")
    ProcessReader(telemetry.meter_provider, cgroup_root=tmp_path)

    [(attrs, point)] = telemetry.points(semconv.OTEL_ML_CGROUP_MEMORY_LIMIT)

    assert (attrs, point.value) == ({}, 2147483648)
    assert telemetry.metrics()[semconv.OTEL_ML_CGROUP_MEMORY_LIMIT].unit == "By"


_FORKED = """
import json, os
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from otel_ml.resources import enable_process_metrics

reader = InMemoryMetricReader()
enable_process_metrics(MeterProvider(metric_readers=[reader]))

def rss():
    data = reader.get_metrics_data()
    [value] = [p.value for rm in data.resource_metrics for sm in rm.scope_metrics
               for m in sm.metrics if m.name == "process.memory.usage" for p in m.data.data_points]
    return value

read_end, write_end = os.pipe()
pid = os.fork()
if pid == 0:
    ballast = bytearray(300 * 1024 * 1024)  # touched: zero-filled pages count in RSS
    ballast[::4096] = b"x" * len(ballast[::4096])
    os.write(write_end, json.dumps({"child": rss()}).encode())
    os._exit(0)
os.close(write_end)
os.waitpid(pid, 0)
print(json.dumps({"parent": rss(), **json.loads(os.read(read_end, 65536))}))
"""


@pytest.mark.subprocess
def test_forked_worker_reports_its_own_process() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _FORKED], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)

    assert result["child"] - result["parent"] > 250 * 1024 * 1024


_CONFIGURED = """
import sys
import otel_ml
handle = otel_ml.configure(endpoint=sys.argv[1], protocol="http/protobuf", traces=False)
assert handle.force_flush(10_000)
"""


@pytest.mark.subprocess
@pytest.mark.parametrize("opt_out", [False, True])
def test_configure_exports_process_metrics_unless_opted_out(opt_out: bool) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    if opt_out:
        environ["OTEL_ML_PROCESS_METRICS"] = "false"
    with HttpReceiver() as receiver:
        done = subprocess.run(
            [sys.executable, "-c", _CONFIGURED, receiver.endpoint],
            env=environ,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        names = set(receiver.metric_names())

    assert names - {semconv.OTEL_ML_CGROUP_MEMORY_LIMIT} == (set() if opt_out else set(EXPECTED))


def test_instrumentor_follows_settings_and_can_target_another_provider(
    telemetry: Telemetry,
) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from otel_ml.instrumentation.resources import ResourcesInstrumentor

    instrumentor = ResourcesInstrumentor()
    off = Settings.load(environ={"OTEL_ML_PROCESS_METRICS": "false"})
    instrumentor.instrument(meter_provider=telemetry.meter_provider, settings=off)
    instrumentor.uninstrument()
    other_reader = InMemoryMetricReader()
    other = MeterProvider(metric_readers=[other_reader])
    try:
        instrumentor.instrument(meter_provider=other, settings=Settings.load(environ={}))
        instrumentor.uninstrument()
        data = other_reader.get_metrics_data()
    finally:
        other.shutdown()

    assert telemetry.metrics() == {}
    assert data is not None
    names = {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert set(EXPECTED) <= names

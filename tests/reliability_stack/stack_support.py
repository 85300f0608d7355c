"""Support for the reliability tests: a real Collector, the served app, reading what arrived.

Data path: app (OTLP/gRPC) -> the Collector built by ``make stack`` (its own
instance, on free loopback ports, started and killed by the test) -> a
loopback OTLP/gRPC receiver in the test process (tests/otlp_receiver.py),
which records every request. Every process is started in its own session and
killed as a group when the test ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from otlp_receiver import Receiver, attributes
from served_process import free_port, stop_group
from served_process import served as served_process

T = TypeVar("T")

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
LAUNCHER = BIN / "opentelemetry-instrument"
APP = "reliability_app:app"


def poll(fetch: Callable[[], T], done: Callable[[T], bool], what: str, timeout_s: float) -> T:
    """Call ``fetch`` until ``done`` accepts its result; fail showing the last result."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = fetch()
        if done(found):
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not seen within {timeout_s:.0f} s; last seen: {found!r}"[:4000])
        time.sleep(0.2)


class Collector:
    """An OpenTelemetry Collector: OTLP/gRPC on ``port`` -> OTLP/gRPC to ``sink``."""

    def __init__(self, binary: Path, port: int, sink: str, workdir: Path) -> None:
        self.binary = binary
        self.port = port
        self.health_port = free_port()
        self.config = workdir / "collector.yaml"
        self.log = workdir / "collector.log"
        self.config.write_text(
            f"""
extensions:
  health_check:
    endpoint: 127.0.0.1:{self.health_port}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{port}
processors:
  batch:
    timeout: 100ms
exporters:
  otlp_grpc/sink:
    endpoint: {sink.removeprefix("http://")}
    tls:
      insecure: true
service:
  extensions: [health_check]
  pipelines:
    traces: {{receivers: [otlp], processors: [batch], exporters: [otlp_grpc/sink]}}
    metrics: {{receivers: [otlp], processors: [batch], exporters: [otlp_grpc/sink]}}
  telemetry:
    metrics:
      level: none
"""
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 30) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [str(self.binary), "--config", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while not _healthy(f"http://127.0.0.1:{self.health_port}/"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the collector did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: what it had not forwarded yet is lost, as in a crash."""
        if self.process is not None:
            stop_group(self.process, signal.SIGKILL)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process)
            self.process = None


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


FLUSH_AT_SHUTDOWN_ONLY = {
    "OTEL_BSP_SCHEDULE_DELAY": "60000",
    "OTEL_METRIC_EXPORT_INTERVAL": "60000",
}
"""Export intervals longer than a test: what arrives, the shutdown flush sent."""


def app_environment(mode: str, service: str, endpoint: str, **extra: str) -> dict[str, str]:
    """The app's environment: OTLP/gRPC to ``endpoint``, the test app importable."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    environ.update(
        RELIABILITY_MODE=mode,
        PYTHONPATH=os.pathsep.join([str(HERE), environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        OTEL_SERVICE_NAME=service,
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
        OTEL_EXPORTER_OTLP_INSECURE="true",
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_METRICS_EXPORTER="otlp",
        OTEL_LOGS_EXPORTER="none",
        OTEL_SEMCONV_STABILITY_OPT_IN="http",
        OTEL_ML_STRICT="1",
        OTEL_ML_PROCESS_METRICS="false",
        OTEL_ML_DRIFT_BUFFER_ROWS="1",
    )
    environ.update(extra)
    return environ


def server_argv(server: str, mode: str, port: int, workers: int = 1) -> list[str]:
    """The command line serving :data:`APP` with ``server`` (``uvicorn`` or ``gunicorn``)."""
    if server == "uvicorn":
        argv = [str(BIN / "uvicorn"), APP, "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--log-level", "warning", "--workers", str(workers)]
        if workers > 1:  # the option (uvicorn >= 0.30) is the supervisor's
            # A spawned worker answers the supervisor's health check only once it has
            # imported everything (under the launcher: every instrumentor); uvicorn
            # kills one that is silent for 5 s, a start a loaded machine can exceed.
            argv += ["--timeout-worker-healthcheck", "60"]
    else:
        argv = [str(BIN / "gunicorn"), APP, "-k", "uvicorn.workers.UvicornWorker"]
        argv += ["-w", str(workers), "-b", f"127.0.0.1:{port}", "--graceful-timeout", "20"]
    return [str(LAUNCHER), *argv] if mode == "launcher" else argv


def served(
    argv: list[str], environ: dict[str, str], port: int, log: Path, timeout_s: float = 120
) -> AbstractContextManager[subprocess.Popen[bytes]]:
    """Run the server here; yield once ``/healthz`` answers; kill its process group on exit."""
    return served_process(argv, environ, port, log, cwd=HERE, timeout_s=timeout_s)


# --- reading what the receiver got ------------------------------------------------


def spans_by_prediction_id(receiver: Receiver) -> dict[str, dict[str, Any]]:
    """Server spans by their ``ml.prediction.id``: the span's resource attributes."""
    found = {}
    for resource, span in receiver.spans():
        span_attributes = attributes(span.attributes)
        if span.kind == span.SPAN_KIND_SERVER and "ml.prediction.id" in span_attributes:
            found[str(span_attributes["ml.prediction.id"])] = resource
    return found


def metric_points(receiver: Receiver, name: str) -> list[tuple[dict[str, Any], Any]]:
    """``(resource attributes, data point)`` of every point of metric ``name``, in order."""
    with receiver.lock:
        requests = [r.request for r in receiver.metrics]
    out = []
    for request in requests:
        for rm in request.resource_metrics:
            resource = attributes(rm.resource.attributes)
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name != name:
                        continue
                    kind = metric.WhichOneof("data")
                    out.extend((resource, p) for p in getattr(metric, kind).data_points)
    return out


def latest_cumulative(
    receiver: Receiver, name: str, value: Callable[[Any], float], **where: Any
) -> dict[tuple[str, tuple[tuple[str, Any], ...]], float]:
    """The last value per (``service.instance.id``, point attributes) of a cumulative metric.

    ``where`` filters on point attributes. Cumulative points only grow, so the
    largest is the latest.
    """
    latest: dict[tuple[str, tuple[tuple[str, Any], ...]], float] = {}
    for resource, point in metric_points(receiver, name):
        point_attributes = attributes(point.attributes)
        if any(point_attributes.get(k) != v for k, v in where.items()):
            continue
        key = (str(resource.get("service.instance.id")), tuple(sorted(point_attributes.items())))
        latest[key] = max(latest.get(key, 0.0), value(point))
    return latest


def per_instance(latest: dict[tuple[str, Any], float]) -> dict[str, float]:
    """Sum the latest values per ``service.instance.id``."""
    totals: dict[str, float] = {}
    for (instance, _), found in latest.items():
        totals[instance] = totals.get(instance, 0.0) + found
    return totals


def request_counts(receiver: Receiver, route: str = "/predict") -> dict[str, float]:
    """``http.server.request.duration`` counts of ``POST route`` per instance."""
    latest = latest_cumulative(
        receiver,
        "http.server.request.duration",
        lambda p: float(p.count),
        **{"http.route": route, "http.request.method": "POST"},
    )
    return per_instance(latest)

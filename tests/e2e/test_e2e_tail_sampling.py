"""The documented tail-sampling overlay, run: which traces reach Jaeger.

A second collector (own ports, same Jaeger) runs collector-config.yaml with
stack/collector-tail-sampling.yaml, its decision wait shortened through the
yaml config provider. Errors, slow traces and low-confidence predictions are
all kept; of the ordinary traces only the 10 % baseline gets through.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import REPO, Stack, poll, tags, unique_service
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

ORDINARY = 40


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def sampling_collector(stack: Stack, tmp_path: Path) -> Iterator[str]:
    """A collector with the tail-sampling overlay; yields its OTLP/gRPC endpoint."""
    grpc, health = _free_port(), _free_port()
    environ = {
        **os.environ,
        "OTELCOL_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{grpc}",
        "OTELCOL_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{_free_port()}",
        "OTELCOL_PROMETHEUS_ENDPOINT": f"127.0.0.1:{_free_port()}",
        "OTELCOL_HEALTH_ENDPOINT": f"127.0.0.1:{health}",
    }
    argv = [str(stack.paths.collector)]
    for config in ("collector-config.yaml", "stack/collector-tail-sampling.yaml"):
        argv += ["--config", str(REPO / config)]
    argv += ["--config", "yaml:processors::tail_sampling::decision_wait: 1s"]
    log = tmp_path / "collector.log"
    with log.open("w") as out:
        process = subprocess.Popen(argv, env=environ, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(f"http://127.0.0.1:{health}/", process, log)
        yield f"http://127.0.0.1:{grpc}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the tail-sampling collector is not healthy at {url}:\n{log.read_text()}")


def _send(endpoint: str, service: str) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    tracer = provider.get_tracer("e2e")
    now = time.time_ns()
    spans: list[tuple[str, dict[str, Any], Status | None, int]] = [
        ("low-confidence", {"ml.prediction.confidence": 0.55}, None, 0),
        ("low-confidence-batch", {"ml.prediction.confidence.min": 0.3}, None, 0),
        ("error", {"ml.prediction.confidence": 0.99}, Status(StatusCode.ERROR), 0),
        ("slow", {"ml.prediction.confidence": 0.99}, None, 900_000_000),
    ]
    spans += [("ordinary", {"ml.prediction.confidence": 0.95}, None, 0)] * ORDINARY
    for name, attributes, status, duration_ns in spans:
        span = tracer.start_span(name, attributes=attributes, start_time=now - duration_ns)
        if status is not None:
            span.set_status(status)
        span.end(end_time=now + 1_000_000)
    provider.shutdown()


def test_tail_sampling_keeps_errors_slow_and_low_confidence_traces(
    stack: Stack, sampling_collector: str
) -> None:
    service = unique_service("otel-ml-e2e-tail-sampling")
    _send(sampling_collector, service)
    kept = {"low-confidence", "low-confidence-batch", "error", "slow"}

    def names() -> list[str]:
        return [s["operationName"] for t in stack.jaeger.traces(service) for s in t["spans"]]

    found = poll(names, lambda seen: kept <= set(seen), f"the traces {kept} of {service}")
    assert set(found) <= kept | {"ordinary"}
    # 10 % of 40: more than 14 happens with probability about 1e-5.
    assert found.count("ordinary") < 15, found
    assert all(found.count(name) == 1 for name in kept), found
    (slow,) = [
        s for t in stack.jaeger.traces(service) for s in t["spans"] if s["operationName"] == "slow"
    ]
    assert tags(slow)["ml.prediction.confidence"] == 0.99

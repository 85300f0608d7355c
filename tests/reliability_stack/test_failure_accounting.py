"""In-process checks of the two pieces the stack tests rely on.

- ``otel_ml.configure()``'s exporters count failed exports in
  ``otel_ml.export.failures{signal}`` and log one warning per outage;
- ``otel_ml.instrument(app)`` flushes the providers when the app's lifespan
  ends, and ``uninstrument()`` gives the app its own lifespan back.
"""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from stack_support import free_port

import otel_ml
from otel_ml import semconv
from otel_ml.sdk._export_watch import ExportWatch, WatchedSpanExporter


def _failures(reader: InMemoryMetricReader) -> dict[str, int]:
    data = reader.get_metrics_data()
    assert data is not None
    return {
        str(point.attributes[semconv.EXPORT_SIGNAL]): int(point.value)
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == semconv.OTEL_ML_EXPORT_FAILURES
        for point in metric.data.data_points
    }


def test_failed_exports_are_counted_and_logged_once_per_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    endpoint = f"127.0.0.1:{free_port()}"  # nothing listens there
    watch = ExportWatch("traces", endpoint)
    watch.bind(meter_provider)
    exporter = WatchedSpanExporter(OTLPSpanExporter(endpoint, insecure=True, timeout=1), watch)
    span = TracerProvider().get_tracer("t").start_span("s")
    span.end()
    with caplog.at_level(logging.INFO, logger="otel_ml"):
        assert exporter.export([span]) is SpanExportResult.FAILURE
        assert exporter.export([span]) is SpanExportResult.FAILURE
        assert watch.failing
        first_outage = [r.getMessage() for r in caplog.records if r.name == "otel_ml"]
        watch.record(ok=True, items=1)  # an export succeeds: the outage is over
        watch.record(ok=False, items=3)  # a new outage
    exporter.shutdown()
    assert _failures(reader) == {"traces": 3}
    assert len(first_outage) == 1
    assert first_outage[0].startswith(f"otel_ml: exporting traces to {endpoint} failed; 1 items")
    messages = [r.getMessage() for r in caplog.records if r.name == "otel_ml"]
    assert [m.split(" to ")[0] for m in messages] == [
        "otel_ml: exporting traces",
        "otel_ml: exporting traces",  # "... works again after 2 failed exports"
        "otel_ml: exporting traces",
    ]
    assert "works again after 2 failed exports" in messages[1]
    meter_provider.shutdown()


def test_lifespan_shutdown_flushes_the_providers() -> None:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    # A batch delay far beyond the test: only a flush exports the span.
    tracer_provider.add_span_processor(BatchSpanProcessor(spans, schedule_delay_millis=600_000))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    own_lifespan = app.router.lifespan_context
    handle = otel_ml.instrument(app, tracer_provider=tracer_provider, meter_provider=meter_provider)
    with TestClient(app) as client:
        assert client.get("/ping").status_code == 200
        assert spans.get_finished_spans() == ()
    assert [s.name for s in spans.get_finished_spans()] == ["GET /ping"]
    handle.uninstrument()
    assert app.router.lifespan_context is own_lifespan
    tracer_provider.shutdown()
    meter_provider.shutdown()

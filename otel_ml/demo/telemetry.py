"""The SDK set-up ``otel-ml demo`` reports through."""

from __future__ import annotations

import os

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    InMemoryMetricReader,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otel_ml.demo.summary import SpanCounter

TICK_S = 1.0
"""Seconds between two collections and redraws of the live view."""


class DemoTelemetry:
    """SDK providers: an in-memory metric reader and a span counter, plus OTLP/gRPC
    export when an endpoint is given."""

    def __init__(self, otlp_endpoint: str | None) -> None:
        service = os.environ.get("OTEL_SERVICE_NAME") or "otel-ml-demo"
        resource = Resource.create({"service.name": service})
        self.metrics = InMemoryMetricReader()
        self.spans = SpanCounter()
        readers: list[MetricReader] = [self.metrics]
        self.tracer_provider = TracerProvider(resource=resource)
        self.tracer_provider.add_span_processor(self.spans)
        if otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            self.tracer_provider.add_span_processor(
                BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint))
            )
            readers.append(
                PeriodicExportingMetricReader(
                    OTLPMetricExporter(endpoint=otlp_endpoint), export_interval_millis=5000
                )
            )
        self.meter_provider = MeterProvider(resource=resource, metric_readers=readers)

    def shutdown(self) -> None:
        """Flush and stop both providers."""
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()

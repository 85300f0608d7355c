"""Shared fixtures: explicit SDK providers with in-memory exporters.

The suite runs in strict mode: a failure inside otel_ml's telemetry code is
re-raised instead of swallowed, so tests cannot pass over a hidden bug. Tests
that check the swallowing itself switch strict mode off locally.
"""

from __future__ import annotations

import os

os.environ["OTEL_ML_STRICT"] = "1"
# What otel_ml.instrument() opts into; set before any test initialises the contrib HTTP layer.
os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from otel_ml._internal import guard


@dataclass
class Telemetry:
    """Providers to pass to otel_ml, and what they captured."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader

    @property
    def providers(self) -> dict[str, Any]:
        return {"tracer_provider": self.tracer_provider, "meter_provider": self.meter_provider}

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        found = [s for s in self.spans() if s.name == name]
        assert len(found) == 1, f"expected one span {name!r}, got {[s.name for s in self.spans()]}"
        return found[0]

    def metrics(self) -> dict[str, Any]:
        """Metric name -> SDK metric, from one collection."""
        data = self.reader.get_metrics_data()
        out: dict[str, Any] = {}
        if data is None:
            return out
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    out[metric.name] = metric
        return out

    def points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        """``(attributes, point)`` pairs of one metric from a fresh collection."""
        metric = self.metrics().get(name)
        if metric is None:
            return []
        return [(dict(p.attributes or {}), p) for p in metric.data.data_points]


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield Telemetry(tracer_provider, meter_provider, exporter, reader)
    tracer_provider.shutdown()
    meter_provider.shutdown()


@pytest.fixture(autouse=True)
def _fresh_guard() -> Iterator[None]:
    guard.reset_for_tests()
    guard.set_strict(True)
    yield
    guard.set_strict(True)

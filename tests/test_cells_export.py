"""The cells path exports what the SDK instruments export, point by point.

The same traffic goes through otel_ml's real instrument bundles on two meter
providers: one with the SDK's own reader (otel_ml records through the SDK
instruments there) and one built by ``cells_meter_provider`` (otel_ml records
into cells there). Both exports are compared whole, timestamps aside:
names, units, descriptions, scopes, temporality, attributes, buckets, sums,
counts, min, max and the exemplars' values and span and trace ids.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from cells_traffic import SAMPLED, traffic
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import Histogram as HistogramInstrument
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from otlp_receiver import HttpReceiver

from otel_ml import semconv
from otel_ml._internal.cells import CellHistogram
from otel_ml.genai.instruments import GenAITelemetry
from otel_ml.inference.instruments import InferenceTelemetry
from otel_ml.instrumentation.fastapi.http_server import HttpServerMiddleware
from otel_ml.sdk import cells_in_use, cells_meter_provider

DELTA = {HistogramInstrument: AggregationTemporality.DELTA}


class KeepingExporter(MetricExporter):
    """Keeps every export (the cells reader's counterpart of InMemoryMetricReader)."""

    def __init__(self, preferred_temporality: dict[type, AggregationTemporality] | None = None):
        super().__init__(preferred_temporality=preferred_temporality)
        self.exports: list[MetricsData] = []

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
               ) -> MetricExportResult:  # fmt: skip
        self.exports.append(metrics_data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass


def normalized(data: MetricsData | None) -> dict[tuple[str, str | None, str], Any]:
    """(scope, version, metric) -> everything but timestamps, points sorted."""
    out: dict[tuple[str, str | None, str], Any] = {}
    assert data is not None
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                points = sorted(
                    (_point(p) for p in metric.data.data_points), key=lambda p: repr(p[0])
                )
                key = (sm.scope.name, sm.scope.version, metric.name)
                kind = type(metric.data).__name__
                temporality = getattr(metric.data, "aggregation_temporality", None)
                out[key] = (metric.unit, metric.description, kind, temporality, points)
    return out


def _point(point: Any) -> tuple[Any, ...]:
    attributes = sorted(dict(point.attributes or {}).items())
    if not hasattr(point, "bucket_counts"):
        return (attributes, point.value)
    exemplars = [(e.value, e.span_id, e.trace_id, e.filtered_attributes) for e in point.exemplars]
    return (attributes, point.count, point.sum, point.bucket_counts, point.explicit_bounds,
            point.min, point.max, exemplars)  # fmt: skip


@pytest.fixture
def providers_pair(request: pytest.FixtureRequest) -> Iterator[tuple[Any, Any]]:
    preferred = DELTA if request.param == "delta" else None
    sdk_reader = InMemoryMetricReader(preferred_temporality=preferred)
    sdk = MeterProvider(metric_readers=[sdk_reader])
    exporter = KeepingExporter(preferred)
    cells = cells_meter_provider([exporter], export_interval_millis=math.inf)
    yield (sdk, sdk_reader), (cells, exporter)
    sdk.shutdown()
    cells.shutdown()


@pytest.mark.parametrize("providers_pair", ["cumulative", "delta"], indirect=True)
def test_cells_export_the_sdk_points(providers_pair: tuple[Any, Any]) -> None:
    (sdk, sdk_reader), (cells, exporter) = providers_pair
    assert cells_in_use(cells) and not cells_in_use(sdk)
    for round_ in range(3):
        traffic([sdk, cells], round_)
        expected = normalized(sdk_reader.get_metrics_data())
        cells.force_flush()
        got = normalized(exporter.exports[-1])
        assert got == expected
        assert (None, None, semconv.ML_INFERENCE_DURATION) not in got
        histogram = got[("otel_ml", got_version(got), semconv.ML_INFERENCE_DURATION)]
        assert histogram[4][0][7], "sampled spans left exemplars"


def got_version(got: dict[tuple[str, str | None, str], Any]) -> str | None:
    return next(version for scope, version, _ in got if scope == "otel_ml")


def test_cells_alone_are_exported_when_the_sdk_has_nothing() -> None:
    exporter = KeepingExporter()
    cells = cells_meter_provider([exporter], export_interval_millis=math.inf)
    GenAITelemetry.of(SAMPLED, cells).duration.record(1.5, {"gen_ai.operation.name": "chat"})
    cells.force_flush()
    [data] = exporter.exports
    [(key, value)] = normalized(data).items()
    assert key[2] == semconv.GEN_AI_CLIENT_OPERATION_DURATION
    assert value[4][0][1:3] == (1, 1.5)
    cells.shutdown()


def test_the_http_layer_records_into_cells_with_the_same_points() -> None:
    """Real requests through otel_ml's HTTP layer on both paths: all but the
    measured durations agree."""
    seen = []
    for build in (_sdk_provider, _cells_provider):
        provider, read = build()
        app = FastAPI()
        app.get("/items/{item}")(lambda item: {"item": item})
        app.add_middleware(HttpServerMiddleware, tracer_provider=SAMPLED, meter_provider=provider)
        with TestClient(app) as client:
            for path in ("/items/1", "/items/2", "/missing"):
                client.get(path)
        seen.append(_without_durations(normalized(read())))
        provider.shutdown()
    assert seen[0] == seen[1]
    assert any("http.server.request.duration" in key for key in seen[0])


def _sdk_provider() -> tuple[MeterProvider, Any]:
    reader = InMemoryMetricReader()
    return MeterProvider(metric_readers=[reader]), reader.get_metrics_data


def _cells_provider() -> tuple[MeterProvider, Any]:
    exporter = KeepingExporter()
    provider = cells_meter_provider([exporter], export_interval_millis=math.inf)

    def read() -> MetricsData:
        provider.force_flush()
        return exporter.exports[-1]

    return provider, read


def _without_durations(found: dict[Any, Any]) -> dict[Any, Any]:
    return {
        key: (*value[:4], [(p[0], p[1], p[3][-1] is not None, p[4]) for p in value[4]])
        for key, value in found.items()
    }


def _otlp_points(receiver: HttpReceiver) -> dict[str, list[bytes]]:
    """Metric name -> its data points serialised with the timestamps cleared."""
    out: dict[str, list[bytes]] = {}
    for received in receiver.metrics:
        for rm in received.request.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    kind = metric.WhichOneof("data")
                    for point in getattr(metric, kind).data_points:
                        point.ClearField("start_time_unix_nano")
                        point.ClearField("time_unix_nano")
                        for exemplar in getattr(point, "exemplars", ()):
                            exemplar.ClearField("time_unix_nano")
                        name = f"{sm.scope.name}/{metric.name}/{metric.unit}/{kind}"
                        out.setdefault(name, []).append(point.SerializeToString())
    return {name: sorted(points) for name, points in out.items()}


@pytest.mark.parametrize("preferred", [None, DELTA], ids=["cumulative", "delta"])
def test_otlp_receives_the_same_points_on_both_paths(preferred: Any) -> None:
    with HttpReceiver() as to_sdk, HttpReceiver() as to_cells:

        def exporter(receiver: HttpReceiver) -> OTLPMetricExporter:
            endpoint = f"{receiver.endpoint}/v1/metrics"
            return OTLPMetricExporter(endpoint=endpoint, preferred_temporality=preferred)

        sdk = MeterProvider(
            [PeriodicExportingMetricReader(exporter(to_sdk), export_interval_millis=math.inf)]
        )
        cells = cells_meter_provider([exporter(to_cells)], export_interval_millis=math.inf)
        for round_ in range(2):
            traffic([sdk, cells], round_)
            sdk.force_flush()
            cells.force_flush()
        sdk.shutdown()
        cells.shutdown()
        assert len(to_sdk.metrics) == len(to_cells.metrics) == 2
        expected, got = _otlp_points(to_sdk), _otlp_points(to_cells)
    assert got == expected
    assert any(semconv.ML_INFERENCE_DURATION in name for name in got)


def test_readers_of_other_kinds_keep_the_sdk_instruments() -> None:
    """A provider built without cells_meter_provider (the user's own, a
    Prometheus pull reader, another vendor's) records through the SDK."""
    provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    assert not cells_in_use(provider)
    assert not isinstance(InferenceTelemetry.of(SAMPLED, provider).duration, CellHistogram)
    provider.shutdown()


_CONFIGURED = """
import json, sys
import otel_ml
from otel_ml.sdk import cells_in_use
handle = otel_ml.configure(endpoint=sys.argv[1], protocol="http/protobuf", service_name="svc")
with otel_ml.inference("fraud", "3") as call:
    pass
print(json.dumps({"cells": cells_in_use(), "flushed": handle.force_flush(10_000)}))
"""


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("aggregation", "cells", "kind"),
    [
        ("explicit_bucket_histogram", True, "histogram"),
        ("base2_exponential_bucket_histogram", False, "exponential_histogram"),
    ],
)
def test_configure_uses_cells_unless_an_exporter_wants_other_histograms(
    aggregation: str, cells: bool, kind: str
) -> None:
    with HttpReceiver() as receiver:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        environ.update(
            OTEL_ML_PROCESS_METRICS="false",
            OTEL_ML_GPU_METRICS="false",
            OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION=aggregation,
        )
        done = subprocess.run(
            [sys.executable, "-c", _CONFIGURED, receiver.endpoint],
            env=environ, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"cells": cells, "flushed": True}
        kinds = {
            metric.name: metric.WhichOneof("data")
            for received in receiver.metrics
            for rm in received.request.resource_metrics
            for sm in rm.scope_metrics
            for metric in sm.metrics
        }
    assert kinds[semconv.ML_INFERENCE_DURATION] == kind


def test_two_readers_of_one_provider_each_export_every_value() -> None:
    """configure() with ``otlp,console`` gives one reader per exporter, one hub:
    whichever reader collects first, each exports all the values once."""
    sdk_reader = InMemoryMetricReader()
    sdk = MeterProvider(metric_readers=[sdk_reader])
    first, second = KeepingExporter(), KeepingExporter(DELTA)
    cells = cells_meter_provider([first, second], export_interval_millis=math.inf)
    for round_ in range(2):
        traffic([sdk, cells], round_)
        expected = normalized(sdk_reader.get_metrics_data())
        cells.force_flush()
    assert normalized(first.exports[-1]) == expected
    delta_counts = {
        key: sum(point[1] for point in value[4])
        for export in second.exports
        for key, value in normalized(export).items()
        if value[2] == "Histogram"
    }
    assert delta_counts.keys() <= expected.keys()
    duration = ("otel_ml", got_version(expected), semconv.ML_INFERENCE_DURATION)
    total = sum(
        sum(point[1] for point in normalized(export)[duration][4]) for export in second.exports
    )
    assert total == sum(point[1] for point in expected[duration][4])
    sdk.shutdown()
    cells.shutdown()

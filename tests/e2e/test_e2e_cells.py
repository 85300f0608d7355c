"""In-process histograms and SDK instruments give Prometheus the same series.

The same traffic (tests/cells_traffic.py, in the same spans) goes through
otel_ml's bundles on two meter providers exporting OTLP/gRPC to the real
collector: one with the SDK's periodic reader (otel_ml records through the
SDK instruments) and one built by ``cells_meter_provider`` (as
``configure()`` builds it). Prometheus, scraping the collector, must then
hold the same buckets, sums and counts for both services, and exemplars with
the same trace ids.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
from cells_traffic import traffic
from e2e_support import Stack, poll, unique_service
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from otel_ml.sdk import cells_meter_provider

ENDPOINT = "127.0.0.1:4317"
SERIES = (
    "ml_inference_duration_seconds_bucket",
    "ml_inference_duration_seconds_sum",
    "ml_inference_duration_seconds_count",
    "ml_prediction_confidence_bucket",
    "gen_ai_client_token_usage_bucket",
    "gen_ai_client_operation_time_per_output_chunk_seconds_bucket",
)


@pytest.fixture
def services() -> Iterator[tuple[str, str]]:
    """Two services, one per path, that received the same traffic."""
    sdk_service, cells_service = unique_service("cells-sdk"), unique_service("cells-cells")
    sdk = MeterProvider(
        [PeriodicExportingMetricReader(_exporter(), export_interval_millis=math.inf)],
        resource=Resource.create({"service.name": sdk_service}),
    )
    cells = cells_meter_provider(
        [_exporter()],
        resource=Resource.create({"service.name": cells_service}),
        export_interval_millis=math.inf,
    )
    for round_ in range(2):
        traffic([sdk, cells], round_)
    assert sdk.force_flush() and cells.force_flush()
    yield sdk_service, cells_service
    sdk.shutdown()
    cells.shutdown()


def _exporter() -> OTLPMetricExporter:
    return OTLPMetricExporter(endpoint=ENDPOINT, insecure=True)


def _series(stack: Stack, name: str, service: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = stack.prometheus.query(f'{name}{{job="{service}"}}')
    return {_labels(labels): value for labels, value in found}


def _labels(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in labels.items() if k not in ("job", "instance")))


def _trace_ids(stack: Stack, service: str) -> set[tuple[tuple[tuple[str, str], ...], str]]:
    found = stack.prometheus.exemplars(f'ml_inference_duration_seconds_bucket{{job="{service}"}}')
    return {(_labels(e["series"]), e["labels"]["trace_id"]) for e in found}


def test_prometheus_holds_the_same_series_for_both_paths(
    stack: Stack, services: tuple[str, str]
) -> None:
    sdk_service, cells_service = services
    for name in SERIES:

        def both(name: str = name) -> tuple[Any, Any]:
            return _series(stack, name, sdk_service), _series(stack, name, cells_service)

        sdk_series, cells_series = poll(both, lambda p: bool(p[0]) and p[0] == p[1], name)
        assert sdk_series == cells_series
    sdk_exemplars, cells_exemplars = poll(
        lambda: (_trace_ids(stack, sdk_service), _trace_ids(stack, cells_service)),
        lambda p: bool(p[0]) and p[0] == p[1],
        "the same exemplar trace ids on ml_inference_duration_seconds_bucket",
    )
    assert sdk_exemplars == cells_exemplars
